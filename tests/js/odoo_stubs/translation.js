// Odoo's `_t`, untranslated: the English text as it is.
export function _t(text) {
    return text;
}
