"""The injected scripts, run in node with a minimal window: once per page, only on the
allowed origins, values passed as JSON whatever they contain. (No script carries the
password: see tests/security/test_shell.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from shell.injection import AgentAddress, agent_script, banner_script

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
const document = {getElementById: () => null,
  body: {appendChild: (el) => { document.__shown = el.textContent; }},
  createElement: () => ({style: {}, setAttribute() {}})};
const results = [];
"""


def run_page(script: str, times: int = 1, origin: str = ORIGIN) -> dict:
    code = PAGE % {"origin": json.dumps(origin)}
    code += f"for (let i = 0; i < {times}; i++) results.push(eval({json.dumps(script)}));\n"
    code += (
        "console.log(JSON.stringify({results, events: events.map(e => [e.type, e.detail]),"
        " agent: window.possyncAgent, banner: document.__shown}));"
    )
    done = subprocess.run(["node", "-e", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_agent_is_handed_over_once_per_page_however_often_it_runs() -> None:
    page = run_page(agent_script(AGENT, ORIGIN, addon_watch=False), times=3)
    assert page["results"] == ["injected", "already", "already"]
    expected = {"url": "ws://127.0.0.1:4321/page", "token": "tok-en"}
    assert page["events"] == [["possync:agent", expected]]
    assert page["agent"] == expected


def test_other_origins_get_nothing() -> None:
    page = run_page(agent_script(AGENT, ORIGIN, addon_watch=False), origin="https://evil.test")
    assert page["results"] == ["skipped"] and page["events"] == [] and "agent" not in page


def test_a_notice_with_quotes_and_script_tags_stays_a_value() -> None:
    text = "p\"'; alert(1); //</script>\u2028\\"
    page = run_page(banner_script(text))
    assert page["banner"] == text
