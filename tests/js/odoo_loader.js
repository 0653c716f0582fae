// Module resolution for the node tests of the page's Odoo modules (overrides/*.js, pos/*.js):
// the addon's own modules by their Odoo name (`@pos_restaurant_sync/...`) or by a relative
// name without ".js", and the few Odoo modules they import replaced by the small stand-ins in
// odoo_stubs/. Registered by a test file with `register("./odoo_loader.js", import.meta.url)`
// before it imports a patch.
const ADDON = new URL("../../addon/pos_restaurant_sync/static/src/", import.meta.url);
const STUBS = {
    "@web/core/utils/patch": "patch.js",
    "@point_of_sale/app/models/related_models": "related_models.js",
    "@point_of_sale/app/pos_app": "pos_app.js",
    "@web/core/l10n/translation": "translation.js",
    "@web/core/l10n/localization": "localization.js",
    "@point_of_sale/app/models/utils/order_change": "order_change.js",
    "@odoo/owl": "owl.js",
    "@web/core/utils/reactive": "reactive.js",
    "@web/core/utils/timing": "timing.js",
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
    if (specifier.startsWith(".") && !specifier.endsWith(".js") && inAddon(context.parentURL)) {
        // Odoo's module names drop ".js", also in an addon module's relative imports.
        return { url: new URL(`${specifier}.js`, context.parentURL).href, shortCircuit: true };
    }
    return nextResolve(specifier, context);
}

function inAddon(url) {
    return Boolean(url) && url.startsWith(ADDON.href);
}
