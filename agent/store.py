"""The agent's durable state: one SQLite file in WAL mode, and the only code that touches it.

Tables: `changes` (the change log: every change this agent knows, numbered by `seq`, which
pages and peers use as their cursor), `outbox` (changes the server has not acknowledged),
`rejected` (changes the server refused for good, kept for inspection), `cursors` (how far
we have read from the server and from each peer), `closed_orders` (for pruning the log) and
`meta` (the terminal id, the clock, the device certificate, the list of devices).

`Store` is synchronous and belongs to one thread. `AsyncStore` runs it on that thread for
asyncio code: consecutive writes share one transaction (group commit), so one fsync
acknowledges many changes and nothing is acknowledged before its commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from agent.clock import device_ms
from agent.private_files import NotPrivate, create_private_file, private_dir, private_file

T = TypeVar("T")

CORRUPT_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
SQLITE_SUFFIXES = ("", "-wal", "-shm")


# Answers that take a change out of the outbox: the server has it, or refused it for good.
SETTLED = ("applied", "duplicate", "rejected")


class StoreError(Exception):
    """The database cannot be used; the message says what to do."""


class CorruptDatabase(StoreError):
    """The file is not a sound SQLite database; it was moved aside, never deleted."""

    def __init__(self, path: Path, moved_to: Path, cause: str) -> None:
        super().__init__(
            f"the database {path} is damaged ({cause}); it was moved to {moved_to} for "
            f"inspection and nothing was deleted. Unsent changes may still be read from it "
            f"with the sqlite3 tool. Start the agent again to begin with an empty database."
        )
        self.moved_to = moved_to


class DatabaseUnreadable(StoreError):
    """The file exists but cannot be opened (permissions, a folder in its place, …)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One change in the log, with its sequence number and where it came from."""

    seq: int
    change: dict
    origin: str

    def as_json(self) -> dict:
        return {"seq": self.seq, "change": self.change}


migrations = Migrations("possync-agent")


@migrations()
def m001_initial(db: Database) -> None:
    # AUTOINCREMENT: a sequence number is never reused, even after pruning, so a page's
    # or a peer's cursor never points at a different change.
    db.executescript(
        """
        CREATE TABLE changes (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            order_uuid TEXT NOT NULL,
            hlc TEXT NOT NULL,
            body TEXT NOT NULL,
            origin TEXT NOT NULL,
            received_ms INTEGER NOT NULL
        );
        CREATE INDEX changes_order ON changes(order_uuid);
        CREATE INDEX changes_hlc ON changes(hlc);
        CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE INDEX outbox_seq ON outbox(seq);
        CREATE TABLE rejected (id TEXT PRIMARY KEY, body TEXT NOT NULL, reason TEXT,
                               rejected_ms INTEGER NOT NULL);
        CREATE TABLE cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL,
                              updated_ms INTEGER NOT NULL);
        CREATE TABLE closed_orders (order_uuid TEXT PRIMARY KEY, closed_ms INTEGER NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """
    )
    terminal = "t-" + os.urandom(8).hex()
    db.execute("INSERT INTO meta(key, value) VALUES ('terminal', ?)", [terminal])


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class Store:
    """The database, used from one thread.

    Every write method is atomic: a transaction of its own, or part of the caller's.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._fresh: list[Entry] = []
        self.terminal = self.get_meta("terminal") or ""

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (or create) the database; a damaged file is moved aside, never wiped.

        :raises CorruptDatabase: the file was damaged and has been moved aside
        :raises DatabaseUnreadable: the file cannot be opened at all
        """
        try:
            _make_private(path)
            db = _connect(path)
        except NotPrivate as exc:
            raise DatabaseUnreadable(f"cannot use the database {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorname", "") not in CORRUPT_ERRORS:
                raise DatabaseUnreadable(f"cannot open the database {path}: {exc}") from exc
            raise CorruptDatabase(path, _move_aside(path), str(exc)) from exc
        except _Unsound as exc:
            raise CorruptDatabase(path, _move_aside(path), str(exc)) from exc
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def transaction(self):
        """A transaction around several writes: theirs join it (see _atomic)."""
        return self.db.atomic()

    def _atomic(self):
        # A write method is a transaction of its own, or part of the caller's: AsyncStore
        # wraps each task in a savepoint, so a nested savepoint per method would only
        # cost statements.
        return contextlib.nullcontext() if self.db.conn.in_transaction else self.db.atomic()

    # --- meta and cursors ---------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._atomic():
            self._set_meta(key, value)

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def cursor(self, name: str) -> int:
        row = self.db.execute("SELECT value FROM cursors WHERE name = ?", [name]).fetchone()
        return row[0] if row else 0

    def set_cursor(self, name: str, value: int) -> None:
        with self._atomic():
            self._set_cursor(name, value)

    def _set_cursor(self, name: str, value: int) -> None:
        # The source's word is final, even backwards: a server restored from a backup
        # answers from 0 again, and a cursor held above its log would re-read for ever.
        self.db.execute(
            "INSERT INTO cursors(name, value, updated_ms) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value, "
            "updated_ms = excluded.updated_ms",
            [name, value, device_ms()],
        )

    # --- the change log -------------------------------------------------------------------

    def add_changes(
        self,
        changes: Iterable[dict],
        origin: str,
        *,
        outbox: bool,
        cursors: dict[str, int] | None = None,
        keep: Collection[str] = (),
    ) -> list[Entry]:
        """Store the changes not yet known, all or nothing, and return their new entries.

        With `outbox`, new changes also wait for the server. Changes that come from the
        server leave the outbox even when already known: the server has them; but not those
        whose ids are in `keep` (their push's answer settles them). Cursors are
        saved in the same transaction, so a cursor never runs ahead of the changes it
        covers.
        """
        fresh: list[Entry] = []
        now = device_ms()
        with self._atomic():
            for change in changes:
                entry = self._insert(change, origin, now)
                if entry is None:
                    if origin == "server" and change["id"] not in keep:
                        self.db.execute("DELETE FROM outbox WHERE id = ?", [change["id"]])
                    continue
                fresh.append(entry)
                if outbox:
                    self.db.execute(
                        "INSERT INTO outbox(id, seq) VALUES (?, ?)", [change["id"], entry.seq]
                    )
            for name, value in (cursors or {}).items():
                self._set_cursor(name, value)
        self._fresh.extend(fresh)
        return fresh

    def _insert(self, change: dict, origin: str, now: int) -> Entry | None:
        cur = self.db.execute(
            "INSERT OR IGNORE INTO changes(id, order_uuid, hlc, body, origin, received_ms) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [change["id"], change["order"], change["hlc"], _dumps(change), origin, now],
        )
        if cur.rowcount != 1:
            return None
        if any(op.get("op") == "order.close" for op in change["ops"]):
            self.db.execute(
                "INSERT OR IGNORE INTO closed_orders(order_uuid, closed_ms) VALUES (?, ?)",
                [change["order"], now],
            )
        return Entry(cur.lastrowid, change, origin)

    def changes_after(self, seq: int, limit: int) -> list[Entry]:
        rows = self.db.execute(
            "SELECT seq, body, origin FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
            [seq, limit],
        ).fetchall()
        return [Entry(s, json.loads(body), origin) for s, body, origin in rows]

    def max_hlc(self) -> str | None:
        """The latest clock reading among stored changes (the clock restarts past it)."""
        return self.db.execute("SELECT max(hlc) FROM changes").fetchone()[0]

    def latest_seq(self) -> int:
        row = self.db.execute("SELECT max(seq) FROM changes").fetchone()
        return row[0] or 0

    def take_fresh(self) -> list[Entry]:
        """Entries added since the last call (the writer publishes them after commit)."""
        fresh, self._fresh = self._fresh, []
        return fresh

    def prune(self, closed_before_ms: int) -> int:
        """Forget the changes of orders closed before the given time, once all are sent."""
        with self._atomic():
            cur = self.db.execute(
                "DELETE FROM changes WHERE order_uuid IN "
                "(SELECT order_uuid FROM closed_orders WHERE closed_ms < ?) "
                "AND id NOT IN (SELECT id FROM outbox)",
                [closed_before_ms],
            )
            self.db.execute(
                "DELETE FROM closed_orders WHERE closed_ms < ? AND order_uuid NOT IN "
                "(SELECT order_uuid FROM changes)",
                [closed_before_ms],
            )
        return cur.rowcount

    # --- the outbox -----------------------------------------------------------------------

    def outbox_batch(self, limit: int, max_bytes: int) -> list[dict]:
        """The oldest unsent changes: at most `limit` of them and about `max_bytes` of JSON."""
        rows = self.db.execute(
            "SELECT c.body FROM outbox o JOIN changes c ON c.seq = o.seq ORDER BY o.seq LIMIT ?",
            [limit],
        ).fetchall()
        batch: list[dict] = []
        size = 0
        for (body,) in rows:
            size += len(body.encode()) + 1
            if batch and size > max_bytes:
                break
            batch.append(json.loads(body))
        return batch

    def settle(self, acks: Iterable[dict]) -> int:
        """Apply the server's acknowledgements; return how many changes left the outbox.

        `applied` and `duplicate` mean the server has the change. `rejected` is final: the
        change moves to the `rejected` table and is never sent again.
        """
        removed = 0
        with self._atomic():
            for ack in acks:
                status = ack.get("status")
                if status == "rejected":
                    self.db.execute(
                        "INSERT OR REPLACE INTO rejected(id, body, reason, rejected_ms) "
                        "SELECT o.id, c.body, ?, ? FROM outbox o JOIN changes c "
                        "ON c.seq = o.seq WHERE o.id = ?",
                        [str(ack.get("reason") or ""), device_ms(), ack.get("id")],
                    )
                elif status not in SETTLED:
                    continue
                cur = self.db.execute("DELETE FROM outbox WHERE id = ?", [ack.get("id")])
                removed += cur.rowcount
        return removed

    def note_failure(self, ids: list[str], error: str) -> None:
        """Count a failed attempt to send these changes, for whoever inspects the file."""
        with self._atomic():
            self.db.conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                [(error[:500], i) for i in ids],
            )

    def pending_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def rejected_summary(self) -> dict:
        """How many changes the server refused for good, and the last one's id and reason."""
        count = self.db.execute("SELECT count(*) FROM rejected").fetchone()[0]
        last = self.db.execute(
            "SELECT id, reason FROM rejected ORDER BY rejected_ms DESC, rowid DESC LIMIT 1"
        ).fetchone()
        return {"count": count, "last": {"id": last[0], "reason": last[1]} if last else None}

    def rejected(self) -> list[dict]:
        rows = self.db.execute("SELECT id, reason FROM rejected ORDER BY rejected_ms").fetchall()
        return [{"id": i, "reason": reason} for i, reason in rows]


class _Unsound(Exception):
    """The integrity check found damage."""


def _make_private(path: Path) -> None:
    """The folder 0700; the database, its WAL and shared-memory files 0600, new or found.

    The database file is created before SQLite opens it because SQLite gives a new
    database the process's default mode (0644), and its -wal and -shm the database's.
    """
    private_dir(path.parent)
    if not path.exists():
        create_private_file(path)  # an empty file is an empty database to SQLite
    for suffix in SQLITE_SUFFIXES:
        sibling = Path(f"{path}{suffix}")
        if sibling.is_file():
            private_file(sibling)


def _connect(path: Path) -> Database:
    if path.exists() and not path.is_file():
        raise sqlite3.OperationalError(f"{path} is not a file")
    # isolation_level=None: transactions are explicit (Database.atomic), never implicit.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db = Database(conn, execute_plugins=False)
        db.execute("PRAGMA busy_timeout = 5000")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise _Unsound(f"integrity check: {check}")
        db.enable_wal()
        # FULL: in WAL mode a commit is fsynced before it returns, so an acknowledged
        # change survives a power cut, not only a crash.
        db.execute("PRAGMA synchronous = FULL")
        migrations.apply(db)
    except BaseException:
        conn.close()
        raise
    return db


def _move_aside(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    # Suffix the WAL and shared-memory files the same way, so opening the moved file
    # with sqlite3 still sees the transactions its WAL held.
    for suffix in SQLITE_SUFFIXES:
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


# --- the thread that owns the connection -----------------------------------------------


@dataclass
class _Task:
    fn: Callable[[Store], Any]
    write: bool
    future: asyncio.Future


class AsyncStore:
    """Runs Store calls on one thread: asyncio code never blocks on SQLite.

    Writes queued while a transaction commits are grouped into the next transaction
    (group commit); each keeps its own savepoint, so one failing write does not undo the
    others. `on_commit(entries)` runs on the event loop after every committed group, with
    the entries it added, in sequence order.
    """

    def __init__(self, store: Store, on_commit: Callable[[list[Entry]], None]) -> None:
        self.store = store
        self._on_commit = on_commit
        self._tasks: list[_Task | None] = []
        self._cond = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, name="possync-store", daemon=True)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def read(self, fn: Callable[[Store], T]) -> T:
        return await self._submit(fn, write=False)

    async def write(self, fn: Callable[[Store], T]) -> T:
        """Run `fn` in a transaction; return once that transaction has committed."""
        return await self._submit(fn, write=True)

    async def close(self) -> None:
        with self._cond:
            self._tasks.append(None)
            self._cond.notify()
        await asyncio.to_thread(self._thread.join)

    def _submit(self, fn: Callable[[Store], Any], *, write: bool) -> asyncio.Future:
        assert self._loop is not None, "AsyncStore.start() was not called"
        future = self._loop.create_future()
        with self._cond:
            self._tasks.append(_Task(fn, write, future))
            self._cond.notify()
        return future

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._tasks:
                    self._cond.wait()
                tasks, self._tasks = self._tasks, []
            if not self._run(tasks):
                self.store.close()
                return

    def _run(self, tasks: list[_Task | None]) -> bool:
        """Run tasks in order, grouping consecutive writes; False once told to stop."""
        i = 0
        while i < len(tasks):
            task = tasks[i]
            if task is None:
                for rest in tasks[i + 1 :]:
                    if rest is not None:
                        self._resolve(rest, None, StoreError("the store is closed"))
                return False
            if not task.write:
                self._resolve(task, *self._attempt(task))
                i += 1
                continue
            j = i
            while j < len(tasks) and tasks[j] is not None and tasks[j].write:
                j += 1
            self._run_writes(tasks[i:j])
            i = j
        return True

    def _run_writes(self, tasks: list[_Task]) -> None:
        try:
            with self.store.transaction():
                outcomes = [self._attempt_write(task) for task in tasks]
        except Exception as exc:  # the commit itself failed: nothing of the group is stored
            self.store.take_fresh()
            self._post(_settle_group, [(task.future, None, exc) for task in tasks])
            return
        fresh = self.store.take_fresh()
        settled = [(task.future, *outcome) for task, outcome in zip(tasks, outcomes, strict=True)]
        # One wake-up of the event loop per group, not one per task.
        self._post(self._published, fresh, settled)

    def _published(self, fresh: list[Entry], settled: list) -> None:
        self._on_commit(fresh)
        _settle_group(settled)

    def _attempt(self, task: _Task) -> tuple[Any, Exception | None]:
        try:
            return task.fn(self.store), None
        except Exception as exc:
            return None, exc

    def _attempt_write(self, task: _Task) -> tuple[Any, Exception | None]:
        # A savepoint per task: a failing write undoes itself, not the rest of the group.
        conn, mark = self.store.db.conn, len(self.store._fresh)
        conn.execute("SAVEPOINT task")
        value, exc = self._attempt(task)
        if exc is not None:
            conn.execute("ROLLBACK TO task")
            del self.store._fresh[mark:]
        conn.execute("RELEASE task")
        return value, exc

    def _resolve(self, task: _Task, value: Any, exc: Exception | None) -> None:
        self._post(_settle_group, [(task.future, value, exc)])

    def _post(self, fn: Callable, *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            self._loop.call_soon_threadsafe(fn, *args)


def _settle_group(settled: list[tuple[asyncio.Future, Any, Exception | None]]) -> None:
    for future, value, exc in settled:
        _settle_future(future, value, exc)


def _settle_future(future: asyncio.Future, value: Any, exc: Exception | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)
