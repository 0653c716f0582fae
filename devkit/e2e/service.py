"""A restaurant service on real Odoo through a flaky network, and how it ended.

Waiters act at random on up to three browser terminals and any number of protocol-level
ones; the run keeps the truth (what each waiter did) and compares it, at the end, with every
page, every agent and Odoo. Design and the rules the random waiters follow: docs/e2e.md.
"""

from __future__ import annotations

import contextlib
import functools
import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devkit.odoo import Harness, OdooInstance
from devkit.pos_page import REFUSED

from .agents import Agent, AgentSpec
from .converge import Agreement, Replica, until_agreed
from .memory import Memory, rss_mb
from .net import Network
from .protocol_page import PROTOCOL_ACTIONS, HeadlessTerminal
from .terminal import Terminal
from .views import Fact, differences, moved, normalize, odoo_orders

if TYPE_CHECKING:
    from playwright.sync_api import Browser

Log = Callable[[str], None]
AnyTerminal = Terminal | HeadlessTerminal
NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BROWSERS = 3  # terminals with a browser page; the others are at the protocol level
ACTIONS = {  # weight of each waiter action
    "add": 35,
    "qty": 15,
    "discount": 12,
    "line_note": 8,
    "customer": 8,
    "order_note": 6,
    "transfer": 6,
    "split": 6,
    "merge": 5,
    "pay": 6,
}
DISCOUNTS = [0, 5, 10, 15, 20, 50]
# A table's order takes this many lines at most (its round of dishes and drinks); with at
# most two open orders a terminal, the restaurant fills in the first minutes and then holds
# steady, as an evening does (docs/e2e.md).
TABLE_LINES = 6
# The addon's cron that applies to Odoo the orders a failed push left behind; the harness
# runs Odoo without cron threads, so the service triggers it as often as Odoo would.
APPLY_CRON = "pos_restaurant_sync.ir_cron_apply_pending"
CRON_S = 60
LANDED_S = 6.0  # a spike's 2 s on each way, and Odoo's own time


@dataclass
class Plan:
    duration_s: float = 600
    terminals: int = 3
    drop: float = 0.05  # share of new connections dropped
    spike: float = 0.05  # share of forwarded chunks delayed (0–2 s)
    cut_s: float = 60  # the server cut away from every terminal
    seed: int = 7
    pace_s: tuple[float, float] = (0.2, 0.8)
    latency_samples: int = 30
    workers: int = 0  # Odoo's HTTP workers (0: one process, nothing to kill)
    sample_s: float = 60  # memory sampling period
    page_scripts: tuple[Path, ...] = ()  # more init scripts for the browser pages

    @property
    def browsers(self) -> int:
        return min(BROWSERS, self.terminals)


@dataclass
class Outcome:
    actions: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    events: list[str] = field(default_factory=list)
    unmodeled: list[str] = field(default_factory=list)  # splits/merges the truth got wrong
    # Payments the POS reported refused that Odoo booked all the same (Odoo decides).
    payments_misreported: list[str] = field(default_factory=list)
    converge_s: dict[str, float | None] = field(default_factory=dict)  # after each heal
    worker_kills: int = 0

    @property
    def converge_after_heal_s(self) -> float | None:
        """The slowest convergence after a heal; None if one never came, or none was timed."""
        times = list(self.converge_s.values())
        return None if not times or None in times else max(times)  # type: ignore[type-var]


@contextlib.contextmanager
def started(
    harness: Harness, odoo: OdooInstance, browser: Browser, workdir: Path, plan: Plan, log: Log
) -> Iterator[Service]:
    """A service set up (its terminals open on the POS), closed when the block ends."""
    service = Service(harness, odoo, browser, workdir, plan, log)
    try:
        service.setup()
        yield service
    finally:
        service.close()


class Service:
    def __init__(
        self,
        harness: Harness,
        odoo: OdooInstance,
        browser: Browser,
        workdir: Path,
        plan: Plan,
        log: Log = print,
    ) -> None:
        self.harness, self.odoo, self.browser, self.plan = harness, odoo, browser, plan
        self.workdir, self.log = workdir, log
        self.random = random.Random(plan.seed)
        self.net = Network(plan.seed)
        self.terminals: list[AnyTerminal] = []
        self.truth: dict[str, dict] = {}  # order uuid -> protocol view of what waiters did
        self.owner: dict[str, str] = {}  # order or line uuid -> terminal name that made it
        self.locks: set[str] = set()  # orders an action changed whole, until all show it
        self.before: set[str] = set()  # orders that existed before the run
        self.server_up = True
        self.outcome = Outcome()
        self.memory = Memory(sample_s=plan.sample_s)
        self.started = time.monotonic()  # the service's start, once it runs
        self.next_cron = self.started + CRON_S
        self.catalog: dict[str, Any] = {}

    # --- set-up -------------------------------------------------------------------------

    def setup(self) -> None:
        odoo = self.odoo
        odoo.jsonrpc(
            "pos.config",
            "write",
            [[odoo.config_id], {"possync_enabled": True, "possync_mode": "bus"}],
        )
        # Every terminal logs in as admin through its own proxy: Odoo would take each one's
        # address for its base URL, a write (and a cache reset of every worker) per login,
        # which ten terminals' logins turn into serialization failures. A deployment
        # behind a proxy freezes it.
        odoo.jsonrpc("ir.config_parameter", "set_param", ["web.base.url.freeze", "True"])
        orders = odoo.jsonrpc("pos.order", "search_read", [[], ["uuid"]])
        self.before = {o["uuid"] for o in orders}
        port = int(odoo.base_url.rsplit(":", 1)[1])
        names = NAMES[: self.plan.terminals]
        # Every proxy listens before the agents' fixed ports are picked, so none takes one.
        servers = {n: self.net.proxy(f"srv-{n}", port) for n in names}
        links = [(n, other) for n in names for other in names if other != n]
        for name, other in links:
            self.net.proxy(f"{name}>{other}", 0)
        specs = {n: self._spec(n, servers[n].url) for n in names}
        for name, other in links:
            self.net.retarget(f"{name}>{other}", specs[other].peer_port)
            specs[name].peers.append(self.net.proxies[f"{name}>{other}"].url)
        for i, (name, spec) in enumerate(specs.items()):
            agent = Agent(spec)
            agent.start()
            if i < self.plan.browsers:
                scripts = self.plan.page_scripts
                self.terminals.append(Terminal(name, agent, odoo, spec.server, scripts))
            else:
                self.terminals.append(HeadlessTerminal(name, agent, self.net.run, odoo.tree.major))
        for terminal in self.terminals:
            terminal.open(self.browser)
        self.catalog = self.terminals[0].pos.catalog()
        drafts = odoo.jsonrpc("pos.order", "search_read", [[("state", "=", "draft")], ["table_id"]])
        self.catalog["busy_tables"] = [o["table_id"][0] for o in drafts if o["table_id"]]
        self.log(
            f"{len(self.terminals)} terminals up on Odoo {odoo.version}"
            f" ({self.plan.browsers} with a browser)"
        )

    def _spec(self, name: str, server: str) -> AgentSpec:
        return AgentSpec(
            data_dir=self.workdir / f"agent-{name}",
            server=server,
            db=self.odoo.db,
            config_id=self.odoo.config_id,
            origin=server,
            token=secrets.token_hex(16),
            password=self.odoo.password,
        )

    def close(self) -> None:
        for terminal in self.terminals:
            terminal.close()
        self.net.close()

    # --- the network ------------------------------------------------------------------

    def links(self, name: str | None = None, kind: str = "all") -> list[str]:
        """Proxy names: the server links (``srv``), the peer links (``peer``) or both."""
        out = []
        for proxy in self.net.proxies:
            is_server = proxy.startswith("srv-")
            if (kind == "srv" and not is_server) or (kind == "peer" and is_server):
                continue
            if name is None or proxy == f"srv-{name}" or name in proxy.split(">"):
                out.append(proxy)
        return out

    # --- waiters ----------------------------------------------------------------------

    def on_terminals(self) -> list[AnyTerminal]:
        return [t for t in self.terminals if t.on]

    def open_orders(self) -> list[str]:
        return [u for u, o in self.truth.items() if o["state"] == "draft" and u not in self.locks]

    def free_tables(self) -> list[int]:
        busy = {o["table_id"] for o in self.truth.values() if o["state"] == "draft"}
        busy |= set(self.catalog.get("busy_tables", []))
        return [t for t in self.catalog["tables"] if t not in busy]

    def act(self, terminal: AnyTerminal, kind: str | None = None) -> None:
        """One random action of ``kind`` (or any) by the waiter at ``terminal``."""
        allowed = ACTIONS if terminal.browser else {k: ACTIONS[k] for k in PROTOCOL_ACTIONS}
        kinds, weights = zip(*allowed.items(), strict=True)
        kind = kind or self.random.choices(kinds, weights)[0]
        self.last: Any = None
        try:
            done = getattr(self, f"_{kind}")(terminal)
        except Exception as error:  # noqa: BLE001 - a refused action is a skipped one
            if REFUSED not in str(error):
                self.log(f"[{terminal.name}] {kind} failed: {str(error)[:2000]}")
            done = False
        with (self.workdir / "actions.log").open("a") as out:
            out.write(f"{time.strftime('%H:%M:%S')} {terminal.name} {kind} {done} {self.last}\n")
        if done:
            self.outcome.actions[kind] = self.outcome.actions.get(kind, 0) + 1
        else:
            self.outcome.skipped += 1

    def _mine(self, terminal: AnyTerminal, lines: bool) -> list[tuple[str, str]]:
        """(order, line) pairs, or (order, "") for orders, this waiter made and may edit."""
        out = []
        for uuid in self.open_orders():
            if lines:
                out += [
                    (uuid, ln)
                    for ln in self.truth[uuid]["lines"]
                    if self.owner.get(ln) == terminal.name
                ]
            elif self.owner.get(uuid) == terminal.name:
                out.append((uuid, ""))
        return out

    def _add(self, terminal: AnyTerminal) -> bool:
        orders = self.open_orders()
        roomy = [u for u in orders if len(self.truth[u]["lines"]) < TABLE_LINES]
        product = self.random.choice(self.catalog["products"])
        if len(orders) < 2 * len(self.terminals) and (not roomy or self.random.random() < 0.25):
            return self._new_order(terminal, product)
        if not roomy:
            return False  # a full restaurant: the waiter waits for a table to pay
        return self._add_line(terminal, self.random.choice(roomy), product)

    def _new_order(self, terminal: AnyTerminal, product: dict) -> bool:
        tables = self.free_tables()
        if not tables:
            return False
        table = self.random.choice(tables)
        uuid = terminal.pos.new_order(table)
        self.truth[uuid] = {"state": "draft", "table_id": table, "lines": {}, "payments": {}}
        self.owner[uuid] = terminal.name
        return self._add_line(terminal, uuid, product)

    def _add_line(self, terminal: AnyTerminal, order: str, product: dict) -> bool:
        line = terminal.pos.add_line(order, product["id"], product["price"])
        self.last = (order, line)
        if not line:
            return False
        self.truth[order]["lines"][line] = {
            "product_id": product["id"],
            "qty": 1,
            "price_unit": product["price"],
        }
        self.owner[line] = terminal.name
        return True

    def _edit_line(self, terminal: AnyTerminal, method: str, field: str, value: Any) -> bool:
        mine = self._mine(terminal, lines=True)
        if not mine:
            return False
        order, line = self.random.choice(mine)
        getattr(terminal.pos, method)(order, line, value)
        self.truth[order]["lines"][line][field] = value
        return True

    def _qty(self, terminal: AnyTerminal) -> bool:
        return self._edit_line(terminal, "set_qty", "qty", self.random.randint(1, 6))

    def _discount(self, terminal: AnyTerminal) -> bool:
        return self._edit_line(terminal, "set_discount", "discount", self.random.choice(DISCOUNTS))

    def _line_note(self, terminal: AnyTerminal) -> bool:
        note = f"{terminal.name} note {self.random.randint(1, 999)}"
        return self._edit_line(terminal, "set_line_note", "customer_note", note)

    def _edit_order(self, terminal: AnyTerminal, method: str, field: str, value: Any) -> bool:
        mine = self._mine(terminal, lines=False)
        if not mine:
            return False
        order = self.random.choice(mine)[0]
        stored = getattr(terminal.pos, method)(order, value)
        # The waiter's method may say how the POS stores it (19's kitchen note: JSON).
        self.truth[order][field] = value if stored is None else stored
        return True

    def _customer(self, terminal: AnyTerminal) -> bool:
        partner = self.random.choice(self.catalog["partners"])
        return self._edit_order(terminal, "set_partner", "partner_id", partner)

    def _order_note(self, terminal: AnyTerminal) -> bool:
        note = f"{terminal.name} kitchen {self.random.randint(1, 999)}"
        return self._edit_order(terminal, "set_order_note", "internal_note", note)

    def _seen(self) -> list[dict[str, dict]]:
        """Every terminal's open orders, normalized."""
        return [{v["uuid"]: normalize(v) for v in t.pos.views()} for t in self.on_terminals()]

    def _settled(self, orders: list[str]) -> list[str]:
        """Those of ``orders`` every terminal shows as the truth says, shuffled."""
        seen = self._seen()
        out = [u for u in orders if all(v.get(u) == normalize(self.truth[u]) for v in seen)]
        self.random.shuffle(out)
        return out

    def _my_settled(self, terminal: AnyTerminal) -> str | None:
        """One of this waiter's orders that every terminal shows as the truth says; a
        browser waiter also takes the bill of the protocol-level terminals' tables (they
        cannot pay, split or merge: docs/e2e.md)."""
        takes = {terminal.name}
        if terminal.browser:
            takes |= {t.name for t in self.terminals if not t.browser}
        settled = self._settled([u for u in self.open_orders() if self.owner.get(u) in takes])
        return settled[0] if settled else None

    def _transfer(self, terminal: AnyTerminal) -> bool:
        # A transfer moves the whole order: the waiter does it once everyone sees it.
        order, tables = self._my_settled(terminal), self.free_tables()
        if not order or not tables:
            return False
        table = self.random.choice(tables)
        terminal.pos.transfer(order, table)
        self.truth[order]["table_id"] = table
        self.locks.add(order)
        return True

    def _pay(self, terminal: AnyTerminal) -> bool:
        # Payments go through Odoo's own validation, which needs the server (docs/e2e.md).
        order = self._my_settled(terminal) if self.server_up else None
        if not order or not self.catalog.get("cash"):
            return False
        self.locks.add(order)
        self.last = order
        paid = terminal.pos.pay(order, self.catalog["cash"])
        self.last = (order, paid["answer"])
        if paid["answer"] not in ("accepted", "deferred"):  # refused, or the POS failed
            if self._state_once_landed(order) == "draft":
                return False  # Odoo refused it: the waiter took the payment back
            # The POS's answer was wrong (an error after Odoo committed): Odoo booked it,
            # and the sync closes the order everywhere, as the truth now says.
            self.log(
                f"[{terminal.name}] payment of {order[:8]}: POS said {paid['answer']!r},"
                " Odoo booked it"
            )
            self.outcome.payments_misreported.append(order)
        if paid["answer"] == "deferred":
            self.log(f"[{terminal.name}] payment of {order[:8]} deferred: Odoo sends it later")
        self.truth[order]["state"] = "paid"
        self.truth[order]["payments"] = paid["view"]["payments"]
        return True

    def _state_once_landed(self, order: str) -> str | None:
        """Odoo's state of the order once an earlier sync of it, still on its way, could have
        landed: the refusal may be of a retry that lost to the first try, which a spike on
        the link (≤ 2 s) still held back."""
        deadline = time.monotonic() + LANDED_S
        while (state := self._odoo_state(order)) == "draft" and time.monotonic() < deadline:
            time.sleep(0.5)
        return state

    def _odoo_state(self, order: str) -> str | None:
        found = self.odoo.jsonrpc("pos.order", "search_read", [[("uuid", "=", order)], ["state"]])
        return found[0]["state"] if found else None

    def _split(self, terminal: AnyTerminal) -> bool:
        # Like a payment, Odoo's split bill screen syncs the two orders natively at once.
        order = self._my_settled(terminal) if self.server_up else None
        if not order or len(self.open_orders()) >= 2 * len(self.terminals):
            return False
        lines = self.truth[order]["lines"]
        if sum(v["qty"] for v in lines.values()) < 2:
            return False
        parts = self._split_parts(lines)
        self.locks.add(order)
        done = terminal.pos.split(order, parts)
        self.last = (order, parts, done and done["uuid"])
        if not done:
            return False
        # What stays keeps its uuids; what moves gets new ones, read from the page.
        split_off = {u: {**v, "qty": parts[u]} for u, v in lines.items() if u in parts}
        self._check_moved("split", terminal, split_off, done["made"]["lines"], discount=True)
        for uuid, qty in parts.items():
            if lines[uuid]["qty"] == qty:
                del lines[uuid]
            else:
                lines[uuid]["qty"] -= qty
        self.truth[done["uuid"]] = self._from_page(terminal, done["made"])
        self.owner[done["uuid"]] = terminal.name
        self.locks.add(done["uuid"])
        return True

    def _split_parts(self, lines: dict[str, dict]) -> dict[str, int]:
        """Some quantity of some lines, never all of it (the screen would only pay then)."""
        chosen = self.random.sample(list(lines), self.random.randint(1, len(lines)))
        parts = {u: self.random.randint(1, int(lines[u]["qty"])) for u in chosen}
        if sum(parts.values()) == sum(v["qty"] for v in lines.values()):
            first = chosen[0]
            parts[first] -= 1
            if not parts[first]:
                del parts[first]
        return parts

    def _merge(self, terminal: AnyTerminal) -> bool:
        # A transfer onto an occupied table: both orders settled, neither touched until
        # everyone shows the merge (Odoo adds quantities to the target's lines).
        order = self._my_settled(terminal) if self.server_up else None
        lines = len(self.truth[order]["lines"]) if order else 0
        targets = [
            u
            for u in self.open_orders()
            if u != order
            and self.truth[u]["table_id"]
            and lines + len(self.truth[u]["lines"]) <= TABLE_LINES
        ]
        targets = self._settled(targets) if order else []
        if not targets:
            return False
        dest = targets[0]
        self.locks |= {order, dest}
        done = terminal.pos.merge(order, dest)
        self.last = (order, dest, bool(done))
        if not done:
            return False
        # 18 adds a discounted line to an undiscounted one of the same product (it checks
        # only the target's discount): the discount is Odoo's to drop there.
        both = {**self.truth[dest]["lines"], **self.truth[order]["lines"]}
        self._check_moved("merge", terminal, both, done["dest"]["lines"], discount=False)
        self.truth[dest] = self._from_page(terminal, done["dest"])
        self.truth[order]["state"] = "cancel"
        return True

    def _check_moved(
        self, kind: str, terminal: AnyTerminal, expected: dict, found: dict, *, discount: bool
    ) -> None:
        """Odoo's split or merge moved exactly the quantities the truth says (its line
        uuids are Odoo's to choose); the report says so otherwise."""
        want, got = moved(expected, discount=discount), moved(found, discount=discount)
        if got != want:
            text = f"[{terminal.name}] {kind}: {got}, expected {want}"
            self.outcome.unmodeled.append(text)
            self.log(text)

    def _from_page(self, terminal: AnyTerminal, view: dict) -> dict:
        """The truth of an order a split or merge just made, from the acting page: its new
        lines are this waiter's."""
        keys = ("product_id", "qty", "price_unit", "discount", "customer_note")
        lines = {u: {k: v[k] for k in keys} for u, v in view["lines"].items()}
        for uuid in lines:
            self.owner.setdefault(uuid, terminal.name)
        return {
            "state": "draft",
            "table_id": view["table_id"],
            "partner_id": view["partner_id"],
            "internal_note": view.get("internal_note") or "",
            "lines": lines,
            "payments": {},
        }

    def release_locks(self) -> None:
        """Orders an action changed whole are free again once every terminal shows them."""
        if not self.locks:
            return
        seen = self._seen()
        for uuid in list(self.locks):
            expected = normalize(self.truth[uuid])
            if expected["state"] == "draft":
                shown = all(view.get(uuid) == expected for view in seen)
            else:
                shown = all(uuid not in view for view in seen)
            if shown:
                self.locks.discard(uuid)

    # --- the check --------------------------------------------------------------------

    def facts(self) -> list[Fact]:
        """Everything any page, agent or Odoo gets wrong about the truth, right now."""
        return [fact for replica in self.replicas() for fact in replica.facts()]

    def replicas(self) -> list[Replica]:
        """Every page of a terminal that is on, every agent and Odoo, each checked against
        the truth as it is now."""
        expected = {u: normalize(o) for u, o in self.truth.items()}
        out = [
            Replica(f"page {t.name}", functools.partial(self._page_facts, t, expected))
            for t in self.on_terminals()
        ]
        out += [
            Replica(f"agent {t.name}", functools.partial(self._agent_facts, t, expected))
            for t in self.terminals
        ]
        return [*out, Replica("odoo", functools.partial(self._odoo_facts, expected))]

    def _page_facts(self, terminal: AnyTerminal, expected: dict[str, dict]) -> list[Fact]:
        where = f"page {terminal.name}"
        views = {
            v["uuid"]: normalize(v) for v in terminal.pos.views() if v["uuid"] not in self.before
        }
        out: list[Fact] = []
        for uuid, order in expected.items():
            if order["state"] == "draft":
                out += differences(where, uuid, order, views.get(uuid))
            elif uuid in views:
                out.append(("lost", f"{uuid}:state", f"{where}: paid order {uuid[:8]} still open"))
        for uuid in views.keys() - expected.keys():
            out.append(("extra", f"{uuid}:order", f"{where}: unexpected open order {uuid[:8]}"))
        return out

    def _agent_facts(self, terminal: AnyTerminal, expected: dict[str, dict]) -> list[Fact]:
        where = f"agent {terminal.name}"
        found = {u: normalize(v) for u, v in terminal.agent.orders().items()}
        out: list[Fact] = []
        for uuid, order in expected.items():
            # Odoo's own validation books the payment lines; agents learn only the close.
            out += differences(
                where, uuid, order, found.get(uuid), payments=order["state"] == "draft"
            )
        for uuid in found.keys() - expected.keys() - self.before:
            if found[uuid]["lines"]:
                out.append(("extra", f"{uuid}:order", f"{where}: unexpected order {uuid[:8]}"))
        return out

    def _odoo_facts(self, expected: dict[str, dict]) -> list[Fact]:
        found = odoo_orders(self.odoo, list(expected))
        out: list[Fact] = []
        for uuid, order in expected.items():
            out += differences("odoo", uuid, order, found.get(uuid))
        drafts = self.odoo.jsonrpc(
            "pos.order",
            "search_read",
            [[("state", "=", "draft"), ("config_id", "=", self.odoo.config_id)], ["uuid", "lines"]],
        )
        for order in drafts:
            if (
                order["uuid"] not in expected
                and order["uuid"] not in self.before
                and order["lines"]
            ):
                out.append(
                    (
                        "extra",
                        f"{order['uuid']}:order",
                        f"odoo: unexpected order {order['uuid'][:8]}",
                    )
                )
        return out

    def converge(self, timeout: float) -> Agreement | None:
        """When every replica agreed with the truth (`until_agreed`: each replica timed on
        its own); None if not within ``timeout``."""
        agreement = until_agreed(self.replicas(), timeout, between=self.cron_if_due, log=self.log)
        if agreement is not None:
            return agreement
        with contextlib.suppress(Exception):
            for fact in self.facts()[:20]:
                self.log(f"  still differs: {fact[2]}")
        return None

    def report(self, converge_timeout: float = 120) -> dict[str, Any]:
        """Heal everything, let it settle, and count what differs."""
        self.net.faults(None, drop=0, spike=0)
        self.net.partition(list(self.net.proxies), False)
        self.converge(converge_timeout)
        facts = self.facts()
        changes = self.odoo.jsonrpc(
            "pos_restaurant_sync.change",
            "search_count",
            [[("config_id", "=", self.odoo.config_id)]],
        )
        return {
            "changes": changes,
            "actions": sum(self.outcome.actions.values()),
            "actions_by_kind": self.outcome.actions,
            "skipped": self.outcome.skipped,
            "orders": len(self.truth),
            "lost": len({f[1] for f in facts if f[0] == "lost"}),
            "duplicated": len({f[1] for f in facts if f[0] == "extra"}),
            "diverged_orders": len({f[1].split(":")[0] for f in facts}),
            "differences": sorted({f[2] for f in facts})[:200],
            "converge_after_heal_s": self.outcome.converge_after_heal_s,
            "converge_s": self.outcome.converge_s,
            "unmodeled": self.outcome.unmodeled,
            "payments_misreported": self.outcome.payments_misreported,
            "ui_crashes": {t.name: t.ui_crashes for t in self.terminals if t.ui_crashes},
            "events": self.outcome.events,
            "proxies": self.net.stats(),
            "terminals": {
                "browser": self.plan.browsers,
                "protocol": len(self.terminals) - self.plan.browsers,
            },
            "worker_kills": self.outcome.worker_kills,
            **self.memory.report(self.plan.duration_s),
        }

    # --- the service ------------------------------------------------------------------

    def event(self, text: str) -> None:
        self.outcome.events.append(text)
        self.log(text)

    def run(self) -> None:
        """The service: waiters act while the timeline below breaks things."""
        d = self.plan.duration_s
        last_browser = self.terminals[self.plan.browsers - 1]
        timeline = [
            (0.0, self.faults_on),
            (0.15 * d, lambda: self.kill_agent(last_browser)),
            (0.15 * d + 5, lambda: self.restart_agent(last_browser)),
            (0.3 * d, self.cut_server),
            (0.3 * d + self.plan.cut_s, self.heal_server),
            (0.45 * d, self.kill_worker),
            (0.55 * d, self.restart_odoo),
            (0.72 * d, lambda: self.switch_off(self.terminals[1])),
            (0.72 * d + 15, lambda: self.switch_on(self.terminals[1])),
        ]
        self.started = started = time.monotonic()
        next_sample = 0.0
        self.next_cron = started + CRON_S
        while (elapsed := time.monotonic() - started) < d or timeline:
            while timeline and timeline[0][0] <= elapsed:
                timeline.pop(0)[1]()
            if elapsed >= next_sample:
                self.sample_memory()
                next_sample += self.plan.sample_s
            self.cron_if_due()
            if elapsed >= d:
                continue
            self.release_locks()
            terminals = self.on_terminals()
            if terminals:
                self.act(self.random.choice(terminals))
            # Each terminal keeps the pace of a three-terminal service: more terminals, a
            # busier restaurant.
            scale = self.plan.browsers / len(self.terminals)
            time.sleep(self.random.uniform(*self.plan.pace_s) * scale)

        self.sample_memory()  # the end of the service: the last sample of every life

    def cron_if_due(self) -> None:
        """Odoo's cron thread, for the addon's apply cron (see ``APPLY_CRON``): every
        ``CRON_S`` while the service runs and while the run waits for agreement."""
        if time.monotonic() < self.next_cron:
            return
        self.next_cron = time.monotonic() + CRON_S
        try:
            module, name = APPLY_CRON.split(".")
            domain = [("module", "=", module), ("name", "=", name)]
            [row] = self.odoo.jsonrpc("ir.model.data", "search_read", [domain, ["res_id"]])
            self.odoo.jsonrpc("ir.cron", "method_direct_trigger", [[row["res_id"]]])
        except Exception as error:  # noqa: BLE001 - Odoo restarting: the next minute's run
            self.log(f"apply cron not run: {str(error)[:200]}")

    def sample_memory(self) -> None:
        """Each agent's RSS and each browser page's JS heap, now (docs/e2e.md "Memory")."""
        t = time.monotonic() - self.started
        for terminal in self.terminals:
            proc = terminal.agent.proc
            if proc is not None and proc.poll() is None:
                self.memory.add(f"agent {terminal.name} (pid {proc.pid})", t, rss_mb(proc.pid))
            if terminal.on and terminal.browser:
                try:
                    heap = terminal.heap_mb()
                except Exception as error:  # noqa: BLE001 - a page closing meanwhile
                    self.log(f"[{terminal.name}] heap not read: {str(error)[:200]}")
                    continue
                self.memory.add(f"page {terminal.name} (load {terminal.loads})", t, heap)

    def faults_on(self) -> None:
        self.net.faults(None, drop=self.plan.drop, spike=self.plan.spike)
        self.event(
            f"faults on: {self.plan.drop:.0%} connections dropped,"
            f" {self.plan.spike:.0%} chunks delayed ≤ 2 s"
        )

    def kill_agent(self, terminal: AnyTerminal) -> None:
        terminal.agent.kill()
        self.event(f"agent {terminal.name} SIGKILLed")

    def restart_agent(self, terminal: AnyTerminal) -> None:
        terminal.agent.start()
        self.event(f"agent {terminal.name} restarted")

    def cut_server(self) -> None:
        self.server_up = False
        self.net.partition(self.links(kind="srv"), True)
        self.event(f"server cut away from every terminal for {self.plan.cut_s:.0f} s")

    def heal_server(self) -> None:
        self.net.partition(self.links(kind="srv"), False)
        self.server_up = True
        self.event("server back")
        self.time_convergence("server back")

    def time_convergence(self, heal: str) -> None:
        """Seconds from a heal until every replica agrees; waiters pause meanwhile, so
        "all agree" can happen."""
        agreement = self.converge(120)
        if agreement is None:
            self.outcome.converge_s[heal] = None
            self.event(f"{heal}: no agreement within 120 s")
            return
        self.outcome.converge_s[heal] = round(agreement.seconds, 2)
        differed = f", which last differed in: {agreement.last_differed}"
        self.event(
            f"{heal}: all agree after {self.outcome.converge_s[heal]} s (the last: "
            f"{agreement.last}{differed if agreement.last_differed else ''}; reading every "
            f"replica once took {agreement.check_s:.2f} s)"
        )

    def kill_worker(self) -> None:
        """SIGKILL one of Odoo's HTTP workers mid-service (its master starts another)."""
        kill = getattr(self.harness, "kill_http_worker", None)
        if not self.plan.workers or kill is None:
            self.event("Odoo runs without workers: no worker to kill")
            return
        pid = kill()
        self.outcome.worker_kills += 1
        self.event(f"Odoo HTTP worker {pid} SIGKILLed")
        self.time_convergence("worker killed")

    def restart_odoo(self) -> None:
        server = self.harness.server
        assert server is not None
        self.server_up = False
        server.stop()
        server.start(pidfile=self.harness.root / "server.pid")
        server.wait_ready()
        self.server_up = True
        self.event("Odoo restarted")
        self.time_convergence("Odoo restarted")

    def switch_off(self, terminal: AnyTerminal) -> None:
        """Cut the terminal off, let it work alone, then power it off with unsent changes."""
        self.net.partition(self.links(terminal.name), True)
        for _ in range(3):
            self.act(terminal, "add")
        pushed = terminal.pos.wait_pushed()
        terminal.agent.kill()
        for _ in range(2):
            self.act(terminal, "add")  # stays in the page's own outbox
        time.sleep(1)  # a waiter's second before the power cut
        terminal.switch_off()
        self.event(
            f"terminal {terminal.name} isolated, 5 edits, switched off"
            f" (agent acked the first 3: {pushed})"
        )

    def switch_on(self, terminal: AnyTerminal) -> None:
        terminal.agent.start()
        self.net.partition(self.links(terminal.name), False)
        # A POS load with a dropped asset request never starts; a tablet's user would
        # reload: we load it over a clean link instead, then the faults resume.
        self.net.faults([f"srv-{terminal.name}"], drop=0, spike=0)
        terminal.open(self.browser)
        self.net.faults([f"srv-{terminal.name}"], drop=self.plan.drop, spike=self.plan.spike)
        self.event(f"terminal {terminal.name} switched back on")
        self.time_convergence(f"terminal {terminal.name} back on")

    # --- latency ----------------------------------------------------------------------

    def latency(self, path: str, samples: int) -> dict[str, Any]:
        """A→B: a line added on A until B's POS holds it, with no faults; ``path`` is
        ``server`` (peer links cut) or ``peer`` (server cut away). B shows the order, as a
        waiter at the same table would (an order off screen may wait a second to be
        written: docs/protocol.md). ``samples_ms`` in the order taken; ``timeouts``: edits
        B never showed within the wait; ``edits``: each edit's [start on A, arrival on B]
        in wall-clock ms (an arrival B never showed: None)."""
        cut = self.links(kind="peer" if path == "server" else "srv")
        self.net.partition(cut, True)
        a, b = self.terminals[0], self.terminals[1]
        product = self.catalog["products"][0]
        self._new_order(a, product)
        order = next(u for u in reversed(self.truth) if self.owner.get(u) == a.name)
        b.pos.wait_for_order(order)
        b.pos.open_order(order)
        edits = [self._one_latency(a, b, order, product) for _ in range(samples)]
        b.pos.back_to_floor()
        self.net.partition(cut, False)
        good = [seen - at for at, seen in edits if seen is not None]
        return {"samples_ms": good, "timeouts": len(edits) - len(good), "edits": edits}

    def _one_latency(
        self, a: Terminal, b: Terminal, order: str, product: dict
    ) -> tuple[float | None, float | None]:
        b.pos.watch(order)
        if not self._add_line(a, order, product):
            return None, None
        sent = a.pos.edited(order)
        seen = b.pos.arrival(sent["sig"])
        time.sleep(0.2)
        return sent["at"], seen
