// Odoo's POS app module: pos/compat.js imports it only so that the store has started.
export {};
