// Odoo's POS record base class: like Odoo's, it has no `toJSON` of its own.
export class Base {}
