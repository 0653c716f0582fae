// Odoo's `effect`: runs `callback` on reactive views of the values at once, and again after
// each change to anything it read through them, as Odoo's does.
import { reactive } from "@odoo/owl";

export function effect(callback, dependencies) {
    const views = reactive(dependencies, () => callback(...views));
    callback(...views);
}
