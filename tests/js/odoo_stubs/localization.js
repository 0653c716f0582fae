// Odoo's user localization: what the tests need of it, changeable by a test.
export const localization = { decimalPoint: "." };
