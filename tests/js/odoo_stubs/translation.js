// Odoo's `_t`, untranslated: the English text, with its `%s` / `%(name)s` filled in as
// Odoo's sprintf does when values are given (without, the text keeps its placeholders).
export function _t(text, ...values) {
    if (!values.length) {
        return text;
    }
    if (values.length === 1 && typeof values[0] === "object" && values[0] !== null) {
        return text.replace(/%\((\w+)\)s/g, (_, name) => String(values[0][name]));
    }
    return text.replace(/%s/g, () => String(values.shift()));
}
