"""The agent's durable state (agent/store.py): what is stored, what leaves, what survives."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from agent.store import AsyncStore, CorruptDatabase, DatabaseUnreadable, Store
from devkit.changes import change


@pytest.fixture
def store(tmp_path):
    store = Store.open(tmp_path / "queue.db")
    yield store
    store.close()


def test_a_new_database_gets_a_terminal_id_that_survives_reopening(tmp_path):
    first = Store.open(tmp_path / "queue.db")
    terminal = first.terminal
    first.close()
    assert terminal.startswith("t-")
    assert Store.open(tmp_path / "queue.db").terminal == terminal


def test_the_database_runs_in_wal_mode_with_full_sync(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_a_change_is_stored_once_however_often_it_arrives(store):
    c = change()
    assert [e.seq for e in store.add_changes([c], "page", outbox=True)] == [1]
    assert store.add_changes([c], "page", outbox=True) == []
    assert store.add_changes([c], "peer", outbox=True) == []
    assert [e.change for e in store.changes_after(0, 10)] == [c]
    assert store.pending_count() == 1


def test_changes_from_the_server_do_not_wait_in_the_outbox(store):
    store.add_changes([change()], "server", outbox=False)
    assert store.pending_count() == 0


def test_a_change_seen_again_from_the_server_leaves_the_outbox(store):
    # A peer's change we hold for the server, which the server then broadcasts: it has it.
    c = change()
    store.add_changes([c], "peer", outbox=True)
    store.add_changes([c], "server", outbox=False)
    assert store.pending_count() == 0


def test_applied_and_duplicate_acks_empty_the_outbox_and_rejected_ones_are_kept_aside(store):
    a, b, c, d = (change() for _ in range(4))
    store.add_changes([a, b, c, d], "page", outbox=True)
    removed = store.settle(
        [
            {"id": a["id"], "status": "applied"},
            {"id": b["id"], "status": "duplicate"},
            {"id": c["id"], "status": "rejected", "reason": "order of another config"},
        ]
    )
    assert removed == 3
    assert [x["id"] for x in store.outbox_batch(10, 10**6)] == [d["id"]]
    assert store.rejected() == [{"id": c["id"], "reason": "order of another config"}]


def test_the_outbox_is_sent_oldest_first_within_count_and_size_limits(store):
    changes = [change() for _ in range(5)]
    store.add_changes(changes, "page", outbox=True)
    assert store.outbox_batch(3, 10**6) == changes[:3]
    assert store.outbox_batch(10, 1) == changes[:1]  # always at least one


def test_an_invalid_batch_stores_nothing(store):
    good, bad = change(), change()
    del bad["order"]
    with pytest.raises(KeyError):
        store.add_changes([good, bad], "page", outbox=True)
    assert store.latest_seq() == 0 and store.pending_count() == 0


def test_cursors_are_saved_with_the_changes_they_cover(store):
    store.add_changes([change()], "server", outbox=False, cursors={"server:x": 7})
    assert store.cursor("server:x") == 7
    assert store.cursor("peer:unknown") == 0


def test_a_cursor_follows_its_source_even_backwards(store):
    # A server restored from a backup answers from 0 again and says so.
    store.set_cursor("server:x", 700)
    store.set_cursor("server:x", 3)
    assert store.cursor("server:x") == 3


def test_sequence_numbers_are_never_reused_after_pruning(store):
    closing = change("o-closed", [{"op": "order.close", "state": "paid"}])
    store.add_changes([change("o-closed"), closing], "server", outbox=False)
    assert store.prune(closed_before_ms=10**15) == 2
    assert store.add_changes([change("o-open")], "page", outbox=True)[0].seq == 3


def test_pruning_keeps_open_orders_and_unsent_changes(store):
    unsent = change("o-closed", [{"op": "order.close", "state": "cancel"}])
    store.add_changes([unsent], "page", outbox=True)
    store.add_changes([change("o-open")], "server", outbox=False)
    assert store.prune(closed_before_ms=10**15) == 0
    assert store.latest_seq() == 2


def test_a_damaged_file_is_moved_aside_with_a_clear_error_never_wiped(tmp_path):
    path = tmp_path / "queue.db"
    path.write_bytes(b"this is not a database, but it may hold someone's orders" * 100)
    with pytest.raises(CorruptDatabase) as caught:
        Store.open(path)
    moved = caught.value.moved_to
    assert moved.name.startswith("queue.db.corrupt-")
    assert moved.read_bytes().startswith(b"this is not a database")
    assert "moved to" in str(caught.value) and "nothing was deleted" in str(caught.value)
    assert not path.exists()
    Store.open(path).close()  # the next start begins with an empty database


def test_a_database_with_damaged_pages_is_moved_aside(tmp_path):
    path = tmp_path / "queue.db"
    store = Store.open(path)
    store.add_changes([change() for _ in range(300)], "page", outbox=True)
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(path.read_bytes())
    data[4096 * 2 : 4096 * 4] = b"\xff" * 8192  # scribble over table pages
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptDatabase):
        Store.open(path)


def test_an_unreadable_path_is_a_clear_error_and_is_left_alone(tmp_path):
    path = tmp_path / "queue.db"
    path.mkdir()
    with pytest.raises(DatabaseUnreadable, match="cannot open"):
        Store.open(path)
    assert path.is_dir()


async def test_concurrent_writes_share_a_commit_and_each_is_acknowledged(tmp_path):
    published = []
    runner = AsyncStore(Store.open(tmp_path / "queue.db"), published.extend)
    runner.start()
    changes = [change() for _ in range(200)]
    results = await asyncio.gather(
        *(runner.write(lambda s, c=c: s.add_changes([c], "page", outbox=True)) for c in changes)
    )
    assert sorted(r[0].seq for r in results) == list(range(1, 201))
    await asyncio.sleep(0)
    assert [e.seq for e in published] == list(range(1, 201))  # published in commit order
    assert await runner.read(Store.pending_count) == 200
    await runner.close()


async def test_a_failing_write_does_not_undo_the_others_in_its_group(tmp_path):
    runner = AsyncStore(Store.open(tmp_path / "queue.db"), lambda entries: None)
    runner.start()
    good = change()

    def fails(s: Store) -> None:
        s.add_changes([change()], "page", outbox=True)
        raise RuntimeError("boom")

    outcomes = await asyncio.gather(
        runner.write(fails),
        runner.write(lambda s: s.add_changes([good], "page", outbox=True)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], RuntimeError)
    assert await runner.read(lambda s: [e.change["id"] for e in s.changes_after(0, 10)]) == [
        good["id"]
    ]
    await runner.close()


def test_an_acknowledged_write_is_on_disk_for_another_connection(store, tmp_path):
    c = change()
    store.add_changes([c], "page", outbox=True)
    other = sqlite3.connect(tmp_path / "queue.db")
    assert other.execute("SELECT id FROM outbox").fetchall() == [(c["id"],)]
    other.close()
