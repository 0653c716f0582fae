# ruff: noqa: F401 (Odoo registers a model class when its module is imported)
from . import (
    ir_websocket,
    pos_config,
    pos_order,
    pos_restaurant_sync_change,
    pos_restaurant_sync_change_apply,
    pos_restaurant_sync_change_close,
    pos_restaurant_sync_change_push,
    pos_restaurant_sync_device,
    pos_restaurant_sync_enrolment,
    pos_restaurant_sync_order,
    res_company,
    res_config_settings,
    res_users,
)
