"""CPU time of Odoo's processes, from /proc, including workers that ended meanwhile.

Each process counts its own user and system time (``utime``, ``stime``: all its threads)
and the time of its children it reaped (``cutime``, ``cstime``). Odoo's prefork master
reaps the workers it replaces (a worker past its request or memory limit, one killed), so
the sum over Odoo's live processes of all four counts every worker that ran, ended or
not: a worker alive at the first sample and reaped before the second is counted whole in
its master's ``cutime`` then, its share before the first sample subtracted with the first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def stat_ticks(stat: str) -> int:
    """utime + stime + cutime + cstime of one ``/proc/PID/stat`` line, in clock ticks.

    The command name (second field) may hold spaces and parentheses: the fields are
    counted from after its last ``)``.
    """
    fields = stat.rsplit(")", 1)[1].split()
    # After the name: state is field 3, so utime (14) … cstime (17) are 11 … 14 here.
    return sum(int(value) for value in fields[11:15])


def read_stat(pid: int) -> str | None:
    """``/proc/PID/stat``, or None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None


def cpu_ms(pids: Iterable[int], read: Callable[[int], str | None] = read_stat) -> float:
    """CPU time in ms of the processes ``pids`` and of the children they reaped; a process
    already gone counts nothing (its parent's ``cutime`` holds it once reaped)."""
    ticks = sum(stat_ticks(text) for pid in pids if (text := read(pid)) is not None)
    return ticks * 1000 / TICKS_PER_S
