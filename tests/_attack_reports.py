"""The session's reports: each ``cdanalytics report`` run once per session.

Shared by ``tests/test_disclosure_attack*.py`` (and others) through the
``attack_reports`` fixture of ``tests/conftest.py``, which also makes the
sample's reports of ``sample_report`` and ``sample_reports_by_lang`` once for
all test processes (:meth:`Reports.shared`); see
``tests/test_disclosure_attack.py`` for the policy the suite holds the report to.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import logging
import pickle
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from _attack import Published, read_published, true_counts, wrong_recoveries

from cdanalytics.cli import main
from cdanalytics.config import validate_config

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"

# name -> (participants, seed) of the synthetic exports; "sample" is data/sample
SYNTHETIC = {"small": (300, 3), "second": (300, 4), "large": (20_000, 7)}
THRESHOLDS = [5, 10, 30]
METHODS = {
    "suppression": {},
    "rounding": {"round_to": 5},
    "cell_key": {"method": "cell_key"},
}


@dataclass(frozen=True)
class Caught:
    """A warning a build gave: its class and message (picklable, unlike the warning)."""

    category: type[Warning]
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Report:
    """One run of ``cdanalytics report``: exit code, folder, log and what it published."""

    code: int
    folder: Path
    log: str

    def published(self) -> Published:
        return read_published(self.folder, self.log)


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``cdanalytics ARGV`` in this process: exit code and everything it logged or printed."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = main(argv)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return code, buffer.getvalue()


class Reports:
    """Every export and report of the session, each made once.

    ``root`` may be shared by the test processes of one session (``pytest -n
    2``): each export and report is then made by the first process that needs
    it, under a file lock, and read back by the others (its exit code and log
    are kept beside it), so no report is built twice.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, Report] = {}
        self.values: dict[str, object] = {}

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        lock = self.root / "locks" / f"{name}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with lock.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def shared(self, name: str, make: Callable[[Path], object]) -> object:
        """What ``make(folder)`` returns, made once per session (by the first
        process that asks, under a file lock) and pickled for the others;
        ``folder`` is the session's folder for whatever it writes."""
        if name not in self.values:
            done = self.root / "shared" / f"{name}.pickle"
            with self._locked(f"shared-{name}"):
                if not done.is_file():
                    folder = self.root / "shared" / name
                    shutil.rmtree(folder, ignore_errors=True)  # a partial one of a killed run
                    folder.mkdir(parents=True)
                    done.write_bytes(pickle.dumps(make(folder)))
                self.values[name] = pickle.loads(done.read_bytes())
        return self.values[name]

    def export(self, name: str) -> Path:
        if name == "sample":
            return SAMPLE
        folder = self.root / "exports" / name
        done = folder.with_name(f"{name}.done")
        with self._locked(f"export-{name}"):
            if not done.is_file():
                shutil.rmtree(folder, ignore_errors=True)  # a partial one of a killed run
                n, seed = SYNTHETIC[name]
                code, log = run_cli(
                    ["synth", "--participants", str(n), "--seed", str(seed), "--out", str(folder)]
                )
                assert code == 0, log
                done.write_text("", encoding="utf-8")
        return folder

    def report(self, export: str | Path, config: dict, extra: tuple[str, ...] = ()) -> Report:
        path = export if isinstance(export, Path) else self.export(export)
        # keyed by the config in force (defaults filled in), so that two configs
        # that say the same thing (``{}`` and ``{"groupings": ["programme"]}``)
        # share one report
        effective = validate_config(config).as_dict()
        name = json.dumps([str(path), effective, extra], sort_keys=True)
        if name not in self.cache:
            digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
            out = self.root / "reports" / f"r{digest}"
            done = self.root / "reports" / f"r{digest}.json"
            with self._locked(f"report-{digest}"):
                if not done.is_file():
                    shutil.rmtree(out, ignore_errors=True)
                    cfg = self.root / "configs" / f"c{digest}.yaml"  # JSON, which is YAML
                    cfg.parent.mkdir(parents=True, exist_ok=True)
                    cfg.write_text(json.dumps(config), encoding="utf-8")
                    argv = ["report", str(path), "--out", str(out), "--config", str(cfg), *extra]
                    code, log = run_cli(argv)
                    done.write_text(json.dumps({"code": code, "log": log}), encoding="utf-8")
                made = json.loads(done.read_text(encoding="utf-8"))
            self.cache[name] = Report(made["code"], out, made["log"])
        return self.cache[name]


#: A fixed site secret for the cell key method (a test value, never a real one).
TEST_SECRET = "attack-suite-cell-key-secret-0123456789"


def disclosure(threshold: int, method: str) -> dict:
    return {"disclosure": {"threshold": threshold, **METHODS[method]}}


def published(reports: Reports, export: str | Path, config: dict, method: str) -> Report:
    """The report, which must succeed under every method (cell key included)."""
    report = reports.report(export, config)
    assert report.code == 0, f"the report failed under {config}: {report.log[-2000:]}"
    return report


def truth_of(reports: Reports, export: str | Path, pub: Published) -> dict:
    path = export if isinstance(export, Path) else reports.export(export)
    return true_counts(path, pub.groupings)


def refuse(found, truth, what: str) -> None:
    """No recovery at all; and every recovery the export can confirm is confirmed."""
    wrong = wrong_recoveries(found, truth)
    assert not wrong, "the attacker's model is wrong (fix tests/_attack.py): " + "; ".join(wrong)
    leaks = found.lines()
    assert not leaks, f"{what} recovers {len(leaks)} withheld value(s):\n" + "\n".join(leaks)


#: Methods of the release tests: suppression (which may give things away across
#: releases, reported) and the cell key method (which must not).
RELEASE_METHODS = ["suppression", "cell_key"]
