"""A report folder is never half written, never missing, never written twice at once
(:mod:`cdanalytics.report._atomic`).

``cdanalytics report`` runs in a forked child process (the package is already
imported). Once it has computed its report and holds the folder's lock, a
stand-in for the swap's test pause hook forks copies of it and kills each with
SIGKILL: at each named step of the swap, then at 20 seeded random moments of
writing and swapping. So one computation serves 24 kill points; every copy
runs the real writing and swapping code. After every kill, ``--out`` must hold
one complete report: its ``run.json`` lists the SHA-256 of every other file,
and the folder must hold exactly those files with those contents. The next
run must succeed and clear what the killed ones left.

To keep the test fast the figures (pure drawing, no file is written) are drawn
once and reused by the children.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import time
from pathlib import Path

import pytest
from _cli_run import run_cli

import cdanalytics.report._atomic as atomic
import cdanalytics.report.build as build
from cdanalytics.cli import EXIT_OK, EXIT_USAGE, main
from cdanalytics.outdir import folder_lock
from cdanalytics.synth import write_synthetic_export

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")


def assert_complete(out: Path) -> dict:
    """``out`` holds exactly the files its run.json lists, with those checksums."""
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    files = {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in out.rglob("*")
        if p.is_file() and p.name != "run.json"
    }
    assert files == run["files"]
    assert "report.html" in files and ".cdanalytics-report" in files
    return run


def leftovers(out: Path) -> list[str]:
    """Staging folders or backups beside ``out``."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """An export, a first report at ``out``, and figures cached for the children."""
    base = tmp_path_factory.mktemp("atomic")
    export = base / "export"
    write_synthetic_export(export, n_participants=300, seed=3)
    drawn: list = []
    draw = build.draw_figures

    def cached(*args, **kwargs):
        if not drawn:
            drawn.append(draw(*args, **kwargs))
        return drawn[0]

    mp = pytest.MonkeyPatch()
    mp.setattr(build, "draw_figures", cached)
    out = base / "reports" / "q1"
    code, _ = run_in_process(export, out)
    assert code == EXIT_OK
    yield export, out
    mp.undo()


def run_in_process(export: Path, out: Path) -> tuple[int, str]:
    return run_cli(["report", str(export), "--out", str(out), "--quiet"])


def spawn(export: Path, out: Path, env: dict[str, str] | None = None) -> int:
    """Start ``cdanalytics report EXPORT --out OUT`` in a forked child; its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:  # the child: never return into pytest
        os.environ.update(env or {})
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        code = main(["report", str(export), "--out", str(out), "--quiet"])
    finally:
        os._exit(code)


def exit_code(pid: int) -> int | None:
    """Wait for a child; its exit code, or ``None`` if it was killed."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else None


def pause_env(step: str, signal_file: Path) -> dict[str, str]:
    return {"CDANALYTICS_SWAP_PAUSE": step, "CDANALYTICS_SWAP_PAUSE_FILE": str(signal_file)}


def wait_for(path: Path, pid: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        done, _ = os.waitpid(pid, os.WNOHANG)
        assert not done, "the run ended before reaching its pause point"
        assert time.monotonic() < deadline, "the run never reached its pause point"
        time.sleep(0.02)


def kill_points(out: Path, moments: list[float], wanted: int, record: Path):
    """A stand-in for the swap's pause hook that, once the run has computed its
    report and holds the lock, forks copies of the run and kills each one: at
    each named step of the swap, then at ``moments`` (fractions of the time one
    copy takes to write and swap) until ``wanted`` copies were killed before
    they finished. After each kill it checks ``out`` and records what it found
    in ``record`` (one JSON line per kill)."""
    original = atomic._pause

    def check(point: str, pid: int) -> None:
        _, status = os.waitpid(pid, 0)
        try:
            assert_complete(out)
            found = "complete"
        except Exception as exc:  # recorded, asserted on by the test
            found = f"{type(exc).__name__}: {exc}"
        with record.open("a", encoding="utf-8") as f:
            killed = not os.WIFEXITED(status)
            f.write(json.dumps({"point": point, "killed": killed, "found": found}) + "\n")

    def copy_of_the_run(env: dict[str, str]) -> int:
        pid = os.fork()
        if pid == 0:
            os.environ.update(env)
        return pid

    def hook(step: str) -> None:
        if step != "locked" or os.environ.get("CDANALYTICS_SWAP_PAUSE"):
            return original(step)
        for point in ("locked", "staged", "swapped", "cleaned"):
            signal_file = record.with_name(f"paused-{point}")
            pid = copy_of_the_run(pause_env(point, signal_file))
            if pid == 0:
                return original(step)  # the copy goes on writing (and pauses at `point`)
            wait_for(signal_file, pid)
            os.kill(pid, signal.SIGKILL)
            check(point, pid)
        durations = []
        for _ in range(2):  # copies not killed: how long writing and swapping take
            started = time.monotonic()
            pid = copy_of_the_run({"CDANALYTICS_SWAP_PAUSE": "none"})
            if pid == 0:
                return None
            check("whole write", pid)
            durations.append(time.monotonic() - started)
        killed = 0
        for moment in moments:  # until `wanted` copies were killed before they finished
            pid = copy_of_the_run({"CDANALYTICS_SWAP_PAUSE": "none"})
            if pid == 0:
                return None
            time.sleep(moment * min(durations))
            os.kill(pid, signal.SIGKILL)
            check(f"{moment:.3f}", pid)
            killed += int(json.loads(record.read_text().splitlines()[-1])["killed"])
            if killed == wanted:
                break
        return None  # the run itself goes on and completes

    return hook


@pytest.mark.slow
def test_kills_at_every_step_of_the_swap_and_20_random_moments_leave_a_complete_report(
    setup, tmp_path, monkeypatch
):
    export, out = setup
    rng = random.Random(20)
    moments = [rng.uniform(0.0, 1.0) for _ in range(60)]
    record = tmp_path / "kills.jsonl"
    monkeypatch.setattr(atomic, "_pause", kill_points(out, moments, 20, record))
    pid = spawn(export, out)
    assert exit_code(pid) == EXIT_OK
    kills = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    steps = ["locked", "staged", "swapped", "cleaned", "whole write", "whole write"]
    assert [k["point"] for k in kills[:6]] == steps
    assert all(k["found"] == "complete" for k in kills), kills
    assert all(k["killed"] for k in kills[:4]) and not any(k["killed"] for k in kills[4:6])
    assert sum(k["killed"] for k in kills[6:]) == 20  # 20 random kill points
    monkeypatch.undo()
    assert_complete(out)
    assert run_in_process(export, out)[0] == EXIT_OK  # the next run succeeds
    assert_complete(out)
    assert leftovers(out) == [f".{out.name}.cdanalytics-lock"]  # and clears what was left


def test_a_kill_while_computing_leaves_the_report_and_no_lock_behind(setup):
    export, out = setup
    before = assert_complete(out)
    pid = spawn(export, out)
    time.sleep(random.Random(1).uniform(0.05, 0.4))  # still loading
    os.kill(pid, signal.SIGKILL)
    assert exit_code(pid) is None
    assert assert_complete(out) == before
    with folder_lock(out):  # the killed run's lock went with it
        pass


def test_a_second_run_on_the_same_folder_is_refused_and_the_first_completes(setup, tmp_path):
    export, out = setup
    signal_file = tmp_path / "paused"
    first = spawn(export, out, pause_env("locked", signal_file))
    wait_for(signal_file, first)
    code, stderr = run_in_process(export, out)
    assert code == EXIT_USAGE
    assert f"Another cdanalytics run is writing {out} (pid {first})" in stderr
    assert "Traceback" not in stderr
    signal_file.unlink()  # let the first run go on: its staging folder was left alone
    assert exit_code(first) == EXIT_OK
    assert_complete(out)


def test_without_an_atomic_exchange_a_kill_between_the_renames_is_repaired(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("old", encoding="utf-8")
    backup = tmp_path / ".out.previous"
    out.rename(backup)  # what a kill between the two fallback renames leaves
    with pytest.raises(RuntimeError), atomic.atomic_directory(out) as staging:
        (staging / "report.html").write_text("new, never finished", encoding="utf-8")
        raise RuntimeError
    assert (out / "report.html").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_fallback_swap_replaces_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)  # as on other systems
    out = tmp_path / "out"
    for text in ("first", "second"):
        with atomic.atomic_directory(out) as staging:
            (staging / "report.html").write_text(text, encoding="utf-8")
        assert (out / "report.html").read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
