# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
# ruff: noqa: B018 (an Odoo manifest is a bare dict literal)
{
    "name": "POS Restaurant Real-Time Sync",
    "summary": "Live, loss-free order sync across every terminal of a restaurant POS",
    # The source's x.y.z: Odoo prefixes it with 18.0 or 19.0 itself, so one folder installs
    # on both series; each release zip carries <series>.x.y.z (tools/release_addon.py).
    "version": "1.4.0",
    "category": "Sales/Point of Sale",
    "website": "https://github.com/possync/possync",
    "author": "possync",
    "license": "LGPL-3",
    "depends": ["pos_restaurant", "bus"],
    "data": [
        "security/ir.model.access.csv",
        "security/pos_restaurant_sync_security.xml",
        "data/ir_cron.xml",
        "views/pos_restaurant_sync_enrolment_views.xml",
        "views/res_config_settings_views.xml",
        "views/pos_restaurant_sync_change_views.xml",
        "views/pos_restaurant_sync_device_views.xml",
    ],
    "assets": {
        # Odoo bundles only .js, .scss/.css and .xml files of this glob (ASSET_EXTENSIONS), so
        # a README or a JSON fixture under static/src is skipped, not an error.
        "point_of_sale._assets_pos": ["pos_restaurant_sync/static/src/**/*"],
    },
    "installable": True,
}
