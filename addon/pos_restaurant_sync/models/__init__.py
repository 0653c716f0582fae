# ruff: noqa: F401 (Odoo registers a model class when its module is imported)
from . import (
    pos_config,
    pos_order,
    pos_restaurant_sync_change,
    pos_restaurant_sync_order,
    res_config_settings,
)
