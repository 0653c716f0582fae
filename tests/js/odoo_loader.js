// Module resolution for the node tests of the page's patches (overrides/*.js): the addon's
// own modules by their Odoo name (`@pos_restaurant_sync/...`), and the few Odoo modules they
// import replaced by the small stand-ins in odoo_stubs/. Registered by a test file with
// `register("./odoo_loader.js", import.meta.url)` before it imports a patch.
const ADDON = new URL("../../addon/pos_restaurant_sync/static/src/", import.meta.url);
const STUBS = {
    "@web/core/utils/patch": "patch.js",
    "@point_of_sale/app/models/related_models": "related_models.js",
    "@point_of_sale/app/pos_app": "pos_app.js",
    "@web/core/l10n/translation": "translation.js",
    "@web/core/l10n/localization": "localization.js",
};

export async function resolve(specifier, context, nextResolve) {
    if (specifier in STUBS) {
        const url = new URL(`./odoo_stubs/${STUBS[specifier]}`, import.meta.url);
        return { url: url.href, shortCircuit: true };
    }
    if (specifier.startsWith("@pos_restaurant_sync/")) {
        const path = specifier.slice("@pos_restaurant_sync/".length);
        return { url: new URL(`${path}.js`, ADDON).href, shortCircuit: true };
    }
    return nextResolve(specifier, context);
}
