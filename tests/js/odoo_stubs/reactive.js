// Odoo's `effect`: runs `callback` on the values at once. The stub does not re-run it on
// changes; a test that needs that calls the callback itself.
export function effect(callback, dependencies) {
    callback(...dependencies);
}
