// Owl, as far as the addon's patches use it.
//
// Render hooks: each registration is kept in `hooks`, and a fake component's render runs
// them around its template.
export const hooks = { willRender: [], rendered: [] };
export function onWillRender(fn) {
    hooks.willRender.push(fn);
}
export function onRendered(fn) {
    hooks.rendered.push(fn);
}

// Reactivity, with Owl's rules for subscriptions (owl.js `reactive`): reading a key through
// an observer's proxy subscribes the observer to that key of that object; a write that
// changes the value, or any delete, notifies the key's observers, and each one notified
// forgets all its subscriptions first. `observersOf` lets a test see who is subscribed.
const NO_OBSERVER = () => {};
const observers = new WeakMap(); // target -> key -> Set(observer)
const observed = new Map(); // observer -> Set(target)
const rawOf = new WeakMap(); // proxy -> target

export function toRaw(value) {
    return rawOf.get(value) || value;
}

export function observersOf(target, key) {
    return [...(observers.get(toRaw(target))?.get(key) || [])];
}

function subscribe(target, key, observer) {
    if (observer === NO_OBSERVER) {
        return;
    }
    if (!observers.has(target)) {
        observers.set(target, new Map());
    }
    const keys = observers.get(target);
    keys.set(key, (keys.get(key) || new Set()).add(observer));
    observed.set(observer, (observed.get(observer) || new Set()).add(target));
}

function notify(target, key) {
    for (const observer of [...(observers.get(target)?.get(key) || [])]) {
        for (const other of observed.get(observer) || []) {
            observers.get(other)?.forEach((set) => set.delete(observer));
        }
        observed.delete(observer);
        observer();
    }
}

export function reactive(target, observer = NO_OBSERVER) {
    target = toRaw(target);
    const proxy = new Proxy(target, {
        get(object, key, receiver) {
            subscribe(object, key, observer);
            const value = Reflect.get(object, key, receiver);
            return value && typeof value === "object" ? reactive(value, observer) : value;
        },
        set(object, key, value, receiver) {
            const before = Reflect.get(object, key, receiver);
            const done = Reflect.set(object, key, toRaw(value), receiver);
            if (before !== Reflect.get(object, key, receiver)) {
                notify(object, key);
            }
            return done;
        },
        deleteProperty(object, key) {
            const done = Reflect.deleteProperty(object, key);
            notify(object, key);
            return done;
        },
    });
    rawOf.set(proxy, target);
    return proxy;
}
