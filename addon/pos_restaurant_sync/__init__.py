from . import controllers, models  # noqa: F401 (Odoo loads an addon by importing it)
