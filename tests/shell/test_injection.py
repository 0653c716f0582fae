"""The injected scripts, run in node with a minimal window: once per page, only on the
allowed origins, values passed as JSON whatever they contain."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from shell.injection import AgentAddress, PageInfo, agent_script, login_script

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")

AGENT = AgentAddress(4321, "tok-en")
ORIGIN = "https://odoo.example.com"

# Just enough of a browser page for the scripts: window, location, events, a body.
PAGE = """
const events = [];
const window = globalThis;
window.location = {origin: %(origin)s, pathname: "/pos/ui/2"};
window.CustomEvent = class {
  constructor(type, init) { this.type = type; this.detail = init.detail; }
};
window.dispatchEvent = (e) => events.push(e);
window.setInterval = () => 0;
window.fetch = (url, init) => { window.__fetched = {url, body: JSON.parse(init.body)};
  return new Promise(() => {}); };
const document = {getElementById: () => null, body: {appendChild: () => {}},
  createElement: () => ({style: {}, setAttribute() {}})};
const results = [];
"""


def run_page(script: str, times: int = 1, origin: str = ORIGIN) -> dict:
    code = PAGE % {"origin": json.dumps(origin)}
    code += f"for (let i = 0; i < {times}; i++) results.push(eval({json.dumps(script)}));\n"
    code += (
        "console.log(JSON.stringify({results, events: events.map(e => [e.type, e.detail]),"
        " agent: window.possyncAgent, fetched: window.__fetched}));"
    )
    done = subprocess.run(["node", "-e", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_agent_is_handed_over_once_per_page_however_often_it_runs() -> None:
    page = run_page(agent_script(AGENT, [ORIGIN], addon_watch=False), times=3)
    assert page["results"] == ["injected", "already", "already"]
    expected = {"url": "ws://127.0.0.1:4321/page", "token": "tok-en"}
    assert page["events"] == [["possync:agent", expected]]
    assert page["agent"] == expected


def test_other_origins_get_nothing() -> None:
    page = run_page(agent_script(AGENT, [ORIGIN], addon_watch=False), origin="https://evil.test")
    assert page["results"] == ["skipped"] and page["events"] == [] and "agent" not in page


def test_a_password_with_quotes_and_script_tags_stays_a_value() -> None:
    password = "p\"'; alert(1); //</script>\u2028\\"
    page = run_page(login_script("db", "anna", password, "https://o.example/pos/ui/2"))
    assert page["results"] == ["started"]
    assert page["fetched"]["url"] == "/web/session/authenticate"
    assert page["fetched"]["body"]["params"] == {"db": "db", "login": "anna", "password": password}


def test_chromium_error_pages_are_recognised() -> None:
    raw = json.dumps({"href": "chrome-error://chromewebdata/", "origin": "null", "path": "/"})
    page = PageInfo.parse(raw)
    assert page is not None and page.is_error_page
    assert PageInfo.parse(None) is None and PageInfo.parse("not json") is None
