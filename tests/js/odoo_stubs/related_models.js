// Odoo's POS record base class: like Odoo's, it has no `toJSON` of its own; `delete` takes
// the record out of its model, as Odoo's does.
export class Base {
    delete() {
        this.model.deleted.push(this);
        return this.id;
    }
}
