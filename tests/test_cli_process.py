"""The garbage-collector settings of the command's own process (cdanalytics.cli._process)."""

from __future__ import annotations

import gc

import pytest

from cdanalytics.cli import _process
from cdanalytics.cli._process import heavy_imports


def test_a_callers_process_is_left_alone(monkeypatch):
    monkeypatch.setattr(_process, "_OWN", False)
    before = gc.get_freeze_count()
    with heavy_imports():
        assert gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == before


def test_the_commands_process_loads_without_collection_then_freezes(monkeypatch):
    monkeypatch.setattr(_process, "_OWN", True)
    assert gc.isenabled()
    try:
        with heavy_imports():
            assert not gc.isenabled()
            made = [[i] for i in range(2_000)]  # long-lived objects a module makes
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(made)
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0


def test_main_without_argv_marks_the_process_as_the_commands(monkeypatch):
    from cdanalytics import cli

    monkeypatch.setattr(_process, "_OWN", False)
    monkeypatch.setattr("sys.argv", ["cdanalytics", "--version"])
    with pytest.raises(SystemExit):  # --version exits
        cli.main()
    assert _process._OWN
    monkeypatch.setattr(_process, "_OWN", False)
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert not _process._OWN
