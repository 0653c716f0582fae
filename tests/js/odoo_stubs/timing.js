// Odoo's `batched`: the stub calls through at once, without batching.
export function batched(callback) {
    return (...args) => callback(...args);
}
