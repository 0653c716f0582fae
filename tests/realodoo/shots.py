"""Where the real-Odoo tier writes its pictures.

The addon's pictures (``static/description/``: the readme's, the Apps page's) are refreshed
only on request, ``POSSYNC_README_SHOTS=1``, so a test run leaves the checkout as it found
it; otherwise they go where failure screenshots go (``POSSYNC_SCREENSHOTS``, default /tmp).
"""

from __future__ import annotations

import os
from pathlib import Path

FAILURE_SHOTS = Path(os.environ.get("POSSYNC_SCREENSHOTS", "/tmp"))
README_SHOTS = Path(__file__).resolve().parents[2] / "addon/pos_restaurant_sync/static/description"
SCREENSHOTS = README_SHOTS if os.environ.get("POSSYNC_README_SHOTS") == "1" else FAILURE_SHOTS
