"""The warehouse lock: one writer of whole tables at a time, province ingests side by side.

Every job takes the lock of its warehouse before it touches a table (``jobkit.load``) and keeps it
until it ends (``jobkit.run_main``):

* **exclusive** for the steps that rewrite or read whole tables (``run``, ``classify``, ``match``,
  ``export-workbooks``, ``ingest`` of a register or facility reports, ...): no other job runs on
  the warehouse meanwhile;
* **shared** for ``ingest --ledger`` alone, ``export-workbooks --province`` and ``ingest-workbooks``:
  these only replace the provinces of their own batch (``replaceWhere``) or MERGE on
  province-scoped keys and retry a lost commit, so several run at once, and Delta's optimistic
  concurrency settles their commits. Two ingests of the same province at once are not locked out:
  the later commit conflicts and stops with an error instead of interleaving.

The lock is ``flock(2)`` on ``<warehouse>/_vaxclean_lock``: the kernel releases it when the process
ends in any way (``kill -9`` included), so a lock is never left stale. Each holder also writes
``_vaxclean_lock.d/<host>-<pid>.json`` (step, mode, start time) for the message a blocked job prints;
files of processes that no longer exist on this host are ignored and removed.

Object stores (``s3a://``, ``abfss://``, ``gs://``) have no such lock: there each Delta commit is
atomic and Delta's optimistic concurrency control rejects a conflicting commit; run the whole-table
steps from one scheduler there. Over NFS, Linux maps ``flock`` to NFS byte-range locks.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from vaxclean.errors import ConcurrentRunError

log = logging.getLogger(__name__)

LOCK_NAME = "_vaxclean_lock"
SHARED, EXCLUSIVE = "shared", "exclusive"


def local_path(warehouse: str) -> Path | None:
    """The warehouse as a local path, or None for an object store / remote file system."""
    if warehouse.startswith("file://"):
        return Path(warehouse[len("file://") :])
    if warehouse.startswith("file:"):
        return Path(warehouse[len("file:") :])
    if "://" in warehouse:
        return None
    return Path(warehouse)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


@dataclass
class WarehouseLock:
    """A held lock; :meth:`release` (or process exit) gives it back."""

    fd: int
    info_file: Path

    def release(self) -> None:
        try:
            self.info_file.unlink(missing_ok=True)
        finally:
            os.close(self.fd)


def holders(root: Path) -> list[dict[str, object]]:
    """Who holds the lock now (stale entries of dead processes on this host are dropped)."""
    found = []
    folder = root / f"{LOCK_NAME}.d"
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            info = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if info.get("host") == socket.gethostname() and not _alive(int(info.get("pid", 0))):
            f.unlink(missing_ok=True)
            continue
        found.append(info)
    return found


def _describe(root: Path) -> str:
    people = holders(root)
    if not people:
        return "another vaxclean job"
    return ", ".join(
        f"`vaxclean {h.get('step')}` (pid {h.get('pid')} on {h.get('host')}, {h.get('mode')}, "
        f"since {h.get('since')})"
        for h in people
    )


def acquire(warehouse: str, *, step: str, mode: str, wait_seconds: float = 0.0) -> WarehouseLock | None:
    """Take the warehouse lock in ``mode``; wait up to ``wait_seconds``, then raise ConcurrentRunError.

    Returns None (no lock) for a warehouse on an object store.
    """
    root = local_path(warehouse)
    if root is None:
        log.info("warehouse %s is not a local path: no lock, Delta's commit protocol guards it", warehouse)
        return None
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    op = fcntl.LOCK_EX if mode == EXCLUSIVE else fcntl.LOCK_SH
    deadline = time.monotonic() + max(0.0, wait_seconds)
    announced = False
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                who = _describe(root)
                os.close(fd)
                waited = f" after waiting {wait_seconds:g} s" if wait_seconds > 0 else ""
                raise ConcurrentRunError(
                    f"the warehouse {warehouse} is in use by {who}{waited}: let it finish, "
                    "or rerun with --lock-wait SECONDS to wait for it"
                ) from None
            if not announced:
                log.info("warehouse is in use by %s; waiting up to %g s", _describe(root), wait_seconds)
                announced = True
            time.sleep(0.2)
    folder = root / f"{LOCK_NAME}.d"
    folder.mkdir(exist_ok=True)
    info_file = folder / f"{socket.gethostname()}-{os.getpid()}-{fd}.json"
    since = dt.datetime.now(dt.UTC).strftime("%H:%M:%S UTC")
    info = {"step": step, "mode": mode, "pid": os.getpid(), "host": socket.gethostname(), "since": since}
    info_file.write_text(json.dumps(info), encoding="utf-8")
    return WarehouseLock(fd, info_file)
