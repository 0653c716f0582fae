"""The stand-in Odoo's pages: its login page, and its POS page with a stand-in of the
addon's script.

The addon stand-in does what the real pos_restaurant_sync script promises the desktop
app: on ``possync:agent`` it moves its transport to the agent (a WebSocket hello), and
it exposes ``window.possync.pendingCount()``. ``window.posmodel`` stands for Odoo's own
POS handle. Tests read ``window.__agentEvents`` and ``window.possync.state``; benches read
when the page took the agent from ``POST /_standin/agent_taken``.
"""

from __future__ import annotations

ADDON_SCRIPT = """
<script>
(function () {
  var pending = 0;
  var state = { connected: false, terminal: null, welcomes: 0 };
  window.__agentEvents = 0;
  window.possync = {
    pendingCount: function () { return pending; },
    setPending: function (n) { pending = n; render(); },
    state: state,
  };
  function render() {
    var chip = document.getElementById("sync");
    chip.textContent = state.connected
      ? "Live sync · agent " + state.terminal + (pending ? " · " + pending + " unsent" : "")
      : "Live sync · waiting for the agent";
    chip.className = state.connected ? "chip on" : "chip";
  }
  function take(agent) {
    window.__agentEvents += 1;
    fetch("/_standin/agent_taken", { method: "POST" }).catch(function () {});
    var ws = new WebSocket(agent.url + "?token=" + encodeURIComponent(agent.token));
    ws.onopen = function () { ws.send(JSON.stringify({ type: "hello", v: 1, since: 0 })); };
    ws.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "welcome") {
        state.connected = true;
        state.terminal = message.terminal;
        state.welcomes += 1;
        render();
      }
    };
    ws.onclose = function () { state.connected = false; render(); };
  }
  window.addEventListener("possync:agent", function (event) { take(event.detail); });
  document.addEventListener("DOMContentLoaded", render);
})();
</script>
"""

_TABLES = "".join(
    f'<div class="table{" busy" if n in (3, 6) else ""}"><b>{n}</b>'
    f"<span>{'2 guests' if n in (3, 6) else 'free'}</span></div>"
    for n in range(1, 13)
)

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Odoo POS (stand-in)</title>
<style>
body { margin: 0; font: 15px system-ui, sans-serif; background: #e9e6e9; color: #222; }
header { display: flex; align-items: center; gap: 16px; padding: 0 16px; height: 56px;
  background: #fff; border-bottom: 1px solid #ddd; }
header .logo { font-weight: 800; color: #714b67; font-size: 20px; }
header .tab { padding: 8px 14px; border-radius: 6px; background: #714b67; color: #fff; }
header .grow { flex: 1; }
.chip { padding: 6px 12px; border-radius: 999px; background: #eee; color: #666; font-size: 13px; }
.chip.on { background: #e3f4ea; color: #137a44; font-weight: 600; }
main { display: grid; grid-template-columns: repeat(4, 150px); gap: 28px; padding: 48px;
  justify-content: center; }
.table { height: 110px; border-radius: 14px; background: #fff; display: grid; place-items: center;
  align-content: center; gap: 4px; box-shadow: 0 2px 4px rgba(0,0,0,.08); }
.table b { font-size: 26px; }
.table span { color: #888; font-size: 13px; }
.table.busy { background: #714b67; color: #fff; }
.table.busy span { color: #e8d9e4; }
</style>
<script>window.posmodel = { standIn: true };</script>
__ADDON__
</head><body>
<header><span class="logo">odoo</span><span class="tab">Main Floor</span><span>Terrace</span>
<span class="grow"></span><span id="sync" class="chip">Live sync · waiting for the agent</span>
</header>
<main>__TABLES__</main>
</body></html>
"""


def page(addon_script: str) -> str:
    return _PAGE.replace("__ADDON__", addon_script).replace("__TABLES__", _TABLES)


LOGIN_PAGE = """<!doctype html><html><head><title>Login | Odoo</title></head>
<body style="font-family:sans-serif;background:#f0eeee">
<main style="max-width:360px;margin:80px auto;background:#fff;padding:24px;border-radius:8px">
<h2>Odoo</h2><form method="post">
<p><input name="login" placeholder="Email"></p><p><input name="password" type="password"
placeholder="Password"></p><button>Log in</button></form></main></body></html>"""
