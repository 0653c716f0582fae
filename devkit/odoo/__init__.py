"""A real Odoo 18.0 or 19.0 from a source tree, for possync's real-Odoo tier and benches.

The harness owns everything Odoo needs and nothing the machine already runs, one module per
job:

* ``venv``: a virtualenv per Odoo version, cached under ``~/.cache/possync``;
* ``postgres``: a private PostgreSQL cluster per Odoo version, on 127.0.0.1 with its own port
  and socket folder;
* ``templates``: template databases (``pos_restaurant`` with demo data, then
  ``pos_restaurant_sync`` when the addon has a manifest), copied for each run;
* ``process``: one ``odoo-bin`` (``workers=0`` by default, so the bus websocket is on the
  HTTP port; with workers it is on the gevent port);
* ``proxy``: nginx in front of it, with the site file ``docs/deploy.md`` recommends;
* ``served``: one serving Odoo of a given shape (workers, proxy) with its instance;
* ``harness``: these together (:class:`Harness`), handing out an :class:`OdooInstance`;
* ``rpc``: JSON-RPC as a logged-in user; ``cli``: the command line.

Command line (from the repository root)::

    python -m devkit.odoo --odoo-src PATH up      # prints one JSON line, Ctrl-C stops
    python -m devkit.odoo --odoo-src PATH test    # Odoo's own tests of the addon
    python -m devkit.odoo --odoo-src PATH pot     # export the addon's i18n/*.pot
    python -m devkit.odoo --odoo-src PATH venv    # only build the cached virtualenv
    python -m devkit.odoo --odoo-src PATH clean   # drop the cluster and its templates

Only the standard library is used, so any Python 3.11 can drive it.
"""

from .addon import SYNC_MODULE, sync_addon_present
from .errors import HarnessError
from .harness import Harness
from .instance import OdooInstance
from .odoo_tests import OdooTestRun
from .process import OdooPids
from .rpc import OdooRpc
from .served import ServedOdoo, ServerShape
from .tree import OdooTree

__all__ = [
    "SYNC_MODULE",
    "Harness",
    "HarnessError",
    "OdooInstance",
    "OdooPids",
    "OdooRpc",
    "OdooTestRun",
    "OdooTree",
    "ServedOdoo",
    "ServerShape",
    "sync_addon_present",
]
