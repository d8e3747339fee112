"""The warehouse lock (vaxclean/lock.py): one whole-table writer at a time, province ingests together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobs import run as run_job
from vaxclean import jobkit, lock
from vaxclean.errors import ConcurrentRunError

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys, time
from vaxclean import lock
held = lock.acquire(sys.argv[1], step=sys.argv[2], mode=sys.argv[3])
print("held", flush=True)
time.sleep(float(sys.argv[4]))
"""


def holder(warehouse: Path, mode: str, *, step: str = "run", seconds: float = 120) -> subprocess.Popen:
    """Another process holding the lock (a job in progress); returns once it holds it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(warehouse), step, mode, str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_second_exclusive_job_stops_with_one_sentence(tmp_path, procs):
    procs.append(holder(tmp_path, lock.EXCLUSIVE))
    with pytest.raises(ConcurrentRunError) as err:
        lock.acquire(str(tmp_path), step="classify", mode=lock.EXCLUSIVE)
    message = str(err.value)
    assert f"the warehouse {tmp_path} is in use by `vaxclean run` (pid {procs[0].pid}" in message
    assert "--lock-wait" in message and "\n" not in message


def test_a_shared_job_cannot_start_under_an_exclusive_one_and_vice_versa(tmp_path, procs):
    procs.append(holder(tmp_path, lock.EXCLUSIVE))
    with pytest.raises(ConcurrentRunError):
        lock.acquire(str(tmp_path), step="ingest", mode=lock.SHARED)
    procs[0].kill()
    procs[0].wait()
    procs.append(holder(tmp_path, lock.SHARED, step="ingest"))
    with pytest.raises(ConcurrentRunError, match="`vaxclean ingest`"):
        lock.acquire(str(tmp_path), step="run", mode=lock.EXCLUSIVE)


def test_shared_jobs_run_side_by_side(tmp_path, procs):
    procs.append(holder(tmp_path, lock.SHARED, step="ingest"))
    procs.append(holder(tmp_path, lock.SHARED, step="ingest"))
    mine = lock.acquire(str(tmp_path), step="ingest-workbooks", mode=lock.SHARED)
    assert mine is not None
    assert sorted(h["mode"] for h in lock.holders(tmp_path)) == ["shared"] * 3
    mine.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, procs):
    procs.append(holder(tmp_path, lock.EXCLUSIVE))
    procs[0].send_signal(signal.SIGKILL)
    procs[0].wait()
    # Its description file is still there, but its process is gone: ignored and removed.
    assert len(list((tmp_path / f"{lock.LOCK_NAME}.d").glob("*.json"))) == 1
    mine = lock.acquire(str(tmp_path), step="run", mode=lock.EXCLUSIVE)
    assert [h["pid"] for h in lock.holders(tmp_path)] == [os.getpid()]
    mine.release()
    assert lock.holders(tmp_path) == []


def test_waiting_job_starts_when_the_holder_ends(tmp_path, procs):
    procs.append(holder(tmp_path, lock.EXCLUSIVE, seconds=1.5))
    start = time.monotonic()
    mine = lock.acquire(str(tmp_path), step="classify", mode=lock.EXCLUSIVE, wait_seconds=60)
    assert 0.5 < time.monotonic() - start < 30
    mine.release()


def test_waiting_has_a_limit(tmp_path, procs):
    procs.append(holder(tmp_path, lock.EXCLUSIVE))
    start = time.monotonic()
    with pytest.raises(ConcurrentRunError, match="after waiting 1 s"):
        lock.acquire(str(tmp_path), step="classify", mode=lock.EXCLUSIVE, wait_seconds=1)
    assert time.monotonic() - start >= 1


def test_object_store_warehouse_is_not_locked():
    assert lock.acquire("s3a://bucket/warehouse", step="run", mode=lock.EXCLUSIVE) is None
    assert lock.local_path("file:///data/wh") == Path("/data/wh")


def _mode(argv: list[str], prog: str) -> str | None:
    p = jobkit.parser(prog, "")
    for flag in ("--ledger", "--register", "--reports"):
        p.add_argument(flag)
    jobkit.add_province_flag(p)
    return jobkit.lock_mode(p.parse_args(argv))


def test_which_jobs_share_the_warehouse():
    assert _mode(["--ledger", "p79.csv"], "vaxclean ingest") == lock.SHARED
    assert _mode(["--ledger", "p79.csv", "--register", "r.csv"], "vaxclean ingest") == lock.EXCLUSIVE
    assert _mode(["--reports", "f.csv"], "vaxclean ingest") == lock.EXCLUSIVE
    assert _mode([], "vaxclean ingest-workbooks") == lock.SHARED
    for prog in ("vaxclean run", "vaxclean classify", "vaxclean match", "vaxclean export-workbooks",
                 "vaxclean daily"):  # fmt: skip
        assert _mode([], prog) == lock.EXCLUSIVE
    assert _mode([], "vaxclean score") is None


def test_province_exports_share_the_warehouse():
    assert _mode(["--province", "79"], "vaxclean export-workbooks") == lock.SHARED
    assert _mode([], "vaxclean export-workbooks") == lock.EXCLUSIVE


def test_a_second_run_on_the_same_warehouse_stops_before_starting_spark(tmp_path, procs, capsys):
    procs.append(holder(tmp_path / "wh", lock.EXCLUSIVE))
    status = run_job.main(
        ["--ledger", "sample/ledger.csv", "--register", "sample/register.csv", "--warehouse",
         str(tmp_path / "wh"), "--out", str(tmp_path / "out")]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith(f"vaxclean run: error: the warehouse {tmp_path / 'wh'} is in use by `vaxclean run`")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "wh" / "register").exists()
    assert jobkit._held == []  # noqa: SLF001 - nothing left held by this process
