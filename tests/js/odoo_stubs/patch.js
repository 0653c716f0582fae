// Odoo's `patch(target, extension)` as far as the addon's patches use it: the extension's
// properties replace the target's, and `super.name` in them reaches what the target had.
export function patch(target, extension) {
    const original = Object.create(Object.getPrototypeOf(target));
    for (const key of Reflect.ownKeys(extension)) {
        const own = Object.getOwnPropertyDescriptor(target, key);
        if (own) {
            Object.defineProperty(original, key, own);
        }
        Object.defineProperty(target, key, Object.getOwnPropertyDescriptor(extension, key));
    }
    Object.setPrototypeOf(extension, original);
}
