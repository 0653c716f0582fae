// Owl's render hooks, as far as the addon's patches use them: each registration is kept
// in `hooks`, and a fake component's render runs them around its template.
export const hooks = { willRender: [], rendered: [] };
export function onWillRender(fn) {
    hooks.willRender.push(fn);
}
export function onRendered(fn) {
    hooks.rendered.push(fn);
}
