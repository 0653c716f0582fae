# ruff: noqa: F401 (Odoo collects the tests of the modules imported here)
from . import (
    test_access,
    test_apply,
    test_apply_attributes,
    test_apply_later,
    test_bus_channel,
    test_close,
    test_devices,
    test_enrolment,
    test_lan_address,
    test_perf,
    test_pull,
    test_push,
    test_routes,
    test_security_scope,
    test_settings,
    test_sync_off,
)
