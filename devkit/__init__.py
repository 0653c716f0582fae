"""possync's development kit: what the tests and the benches both run.

Nothing here ships in the app. ``bench/`` and ``tests/`` import the same code from here and
neither imports the other (tests/test_layers.py checks it):

* ``odoo/`` — the real-Odoo harness (``python -m devkit.odoo``);
* ``standin_odoo`` (with its pages in ``standin_pos``) — the stand-in Odoo;
* ``fault_proxy`` — a TCP proxy that fails on purpose;
* ``changes``, ``page_client``, ``processes``, ``waiting`` — changes to send, a POS page's
  side of the agent's WebSocket, real agent and stand-in processes, waiting for them;
* ``desktop`` — the desktop app's environment offscreen; ``background`` — an aiohttp app on
  its own thread; ``ports`` — free loopback ports;
* ``pos_page``, ``chromium``, ``e2e/`` — the POS in a real browser, and the end-to-end service.
"""
