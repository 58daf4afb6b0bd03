"""Output folders are safe by construction (:mod:`cdanalytics.outdir`).

``report``, ``batch`` and ``validate`` are run against every dangerous ``--out``
on scratch copies: the export itself, a folder inside it, a parent of it, an
unrelated folder with files, a symbolic link to the export, and for ``batch``
the exports root. Every file that existed before must still be there, byte for
byte, nothing may be added, and the command must exit 2 with a message that
names the folder and what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from _cli_run import run_cli

from cdanalytics.cli import EXIT_OK, EXIT_USAGE
from cdanalytics.errors import OutputFolderError
from cdanalytics.outdir import check_out_folder, folder_lock, read_marker, write_marker
from cdanalytics.report import build_report
from cdanalytics.report.batch import batch_reports
from cdanalytics.synth import write_synthetic_export


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` (links listed by their target)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            state[rel] = "link -> " + str(path.readlink())
        elif path.is_file():
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[rel] = "folder"
    return state


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """One synthetic export, built once and copied for every test."""
    folder = tmp_path_factory.mktemp("pristine") / "export"
    write_synthetic_export(folder, n_participants=150, seed=11)
    return folder


@pytest.fixture
def scene(tmp_path, pristine) -> Path:
    """A scratch tree: ``export/``, ``root/site/export/`` (a batch root),
    ``unrelated/`` with someone's files, and links to the export and the root."""
    shutil.copytree(pristine, tmp_path / "export")
    (tmp_path / "export" / "notes").mkdir()
    (tmp_path / "export" / "notes" / "read_me.txt").write_text("mine\n", encoding="utf-8")
    shutil.copytree(pristine, tmp_path / "root" / "site" / "export")
    (tmp_path / "unrelated" / "sub").mkdir(parents=True)
    (tmp_path / "unrelated" / "thesis.docx").write_bytes(b"\x00\x01 my thesis")
    (tmp_path / "unrelated" / "sub" / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "export", target_is_directory=True)
    (tmp_path / "rootlink").symlink_to(tmp_path / "root", target_is_directory=True)
    return tmp_path


# Each case: --out relative to the scene, words the message must contain.
REPORT_CASES = {
    "the export": ("export", "it is the export"),
    "inside the export": ("export/notes", "inside the export"),
    "new folder inside the export": ("export/reports", "inside the export"),
    "a parent of the export": (".", "it holds the export"),
    "an unrelated folder": ("unrelated", "not empty"),
    "a link to the export": ("link", "it is the export"),
    "inside a link to the export": ("link/notes", "inside the export"),
}


@pytest.mark.parametrize("command", ["report", "validate"])
@pytest.mark.parametrize("case", REPORT_CASES)
def test_report_and_validate_refuse_a_dangerous_out_and_touch_nothing(scene, command, case):
    out, words = REPORT_CASES[case]
    before = snapshot(scene)
    code, text = run_cli([command, str(scene / "export"), "--out", str(scene / out)])
    assert code == EXIT_USAGE
    assert words in text
    assert "Refusing to write into" in text and "Traceback" not in text
    assert str((scene / out).resolve()) in text  # names the folder
    assert snapshot(scene) == before


BATCH_CASES = {
    "the exports root": ("root", "exports folder"),
    "a link to the exports root": ("rootlink", "exports folder"),
    "a parent of the exports root": (".", "exports folder"),
    "an export": ("root/site/export", "it is the export"),
    "inside an export": ("root/site/export/reports", "inside the export"),
    "an unrelated folder": ("unrelated", "not empty"),
}


@pytest.mark.parametrize("case", BATCH_CASES)
def test_batch_refuses_a_dangerous_out_and_touches_nothing(scene, case):
    out, words = BATCH_CASES[case]
    before = snapshot(scene)
    code, text = run_cli(["batch", str(scene / "root"), "--out", str(scene / out), "--quiet"])
    assert code == EXIT_USAGE
    assert words in text and "Traceback" not in text
    assert snapshot(scene) == before


@pytest.mark.parametrize("case", ["the export", "a parent of the export", "a link to the export"])
def test_force_never_allows_writing_over_the_export(scene, case):
    out, words = REPORT_CASES[case]
    before = snapshot(scene)
    for command in ("report", "validate"):
        code, text = run_cli([command, str(scene / "export"), "--out", str(scene / out), "--force"])
        assert (code, words in text) == (EXIT_USAGE, True)
    code, _ = run_cli(["batch", str(scene / "root"), "--out", str(scene / "root"), "--force-out"])
    assert code == EXIT_USAGE
    assert snapshot(scene) == before


def test_the_library_functions_apply_the_same_rule(scene):
    before = snapshot(scene)
    with pytest.raises(OutputFolderError, match="not empty"):
        build_report(scene / "export", scene / "unrelated")
    with pytest.raises(OutputFolderError, match="exports folder"):
        batch_reports(scene / "root", scene / "root", force_out=True)
    assert snapshot(scene) == before


def test_a_report_goes_into_a_new_folder_then_replaces_only_itself(scene):
    out = scene / "reports" / "q1"
    assert (
        run_cli(["report", str(scene / "export"), "--out", str(out), "--quiet", "--no-figures"])[0]
        == EXIT_OK
    )
    assert read_marker(out, "report")["kind"] == "report"
    first = snapshot(out)
    (scene / "reports" / "keep.txt").write_text("next to the report\n", encoding="utf-8")
    code, _ = run_cli(
        [
            "report",
            str(scene / "export"),
            "--out",
            str(out),
            "--quiet",
            "--lang",
            "nl",
            "--no-figures",
        ]
    )
    assert code == EXIT_OK  # an earlier report is replaced
    second = snapshot(out)
    assert second.keys() == first.keys() and second["report.html"] != first["report.html"]
    assert (scene / "reports" / "keep.txt").read_text(encoding="utf-8") == "next to the report\n"
    # a validate output is not a report folder
    (scene / "val").mkdir()
    write_marker(scene / "val", "validate", files=[])
    code, text = run_cli(["report", str(scene / "export"), "--out", str(scene / "val")])
    assert code == EXIT_USAGE and "validate output, not a report output" in text


def test_force_replaces_an_unrelated_folder(scene):
    code, _ = run_cli(
        [
            "report",
            str(scene / "export"),
            "--out",
            str(scene / "unrelated"),
            "--force",
            "--no-figures",
        ]
    )
    assert code == EXIT_OK
    assert not (scene / "unrelated" / "thesis.docx").exists()
    assert (scene / "unrelated" / "report.html").is_file()


def test_a_batch_may_write_below_its_exports_root_which_it_does_not_search(scene):
    root, out = scene / "root", scene / "root" / "reports"
    code, _ = run_cli(["batch", str(root), "--out", str(out), "--quiet"])
    assert code == EXIT_OK
    exports_before = snapshot(root / "site")
    code, _ = run_cli(["batch", str(root), "--out", str(out), "--quiet"])
    assert code == EXIT_OK  # the reports (with their run.json) are not taken for exports
    entries = json.loads((out / "batch.json").read_text(encoding="utf-8"))
    assert [(e["export"], e["status"]) for e in entries] == [("site/export", "skipped")]
    assert snapshot(root / "site") == exports_before
    assert read_marker(out, "batch") is not None


def test_validate_clears_only_what_its_earlier_run_wrote(scene):
    broken = scene / "export"
    participants = broken / "participants.csv"
    lines = participants.read_text(encoding="utf-8").splitlines()
    participants.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")  # duplicate
    out = scene / "val"
    code, _ = run_cli(["validate", str(broken), "--quarantine", "--out", str(out)])
    assert code == EXIT_OK
    written = set(read_marker(out, "validate")["files"])
    assert "validation_problems.csv" in written
    assert written == {p.name for p in out.iterdir() if not p.name.startswith(".")}
    (out / "my_notes.txt").write_text("keep me\n", encoding="utf-8")
    (out / "quarantine_other.csv").write_text("not listed, so not ours\n", encoding="utf-8")
    participants.write_text("\n".join(lines) + "\n", encoding="utf-8")  # fixed
    code, _ = run_cli(["validate", str(broken), "--out", str(out)])
    assert code == EXIT_OK
    remaining = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert remaining == {"my_notes.txt", "quarantine_other.csv"}
    assert read_marker(out, "validate")["files"] == []


def test_the_folder_rule_accepts_new_empty_and_marked_folders(tmp_path):
    assert check_out_folder(tmp_path / "new", "report") == (tmp_path / "new").resolve()
    (tmp_path / "empty").mkdir()
    assert check_out_folder(tmp_path / "empty", "validate") == (tmp_path / "empty").resolve()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "index.html").write_text("x", encoding="utf-8")
    with pytest.raises(OutputFolderError, match="--force-out"):
        check_out_folder(tmp_path / "mine", "batch")
    write_marker(tmp_path / "mine", "batch")
    assert check_out_folder(tmp_path / "mine", "batch") == (tmp_path / "mine").resolve()
    (tmp_path / "mine" / ".cdanalytics-report").write_text("not json", encoding="utf-8")
    with pytest.raises(OutputFolderError):
        check_out_folder(tmp_path / "mine", "report")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(OutputFolderError, match="is a file"):
        check_out_folder(tmp_path / "file", "report", force=True)


def test_a_report_written_before_markers_is_replaced_but_not_with_a_file_of_yours(tmp_path):
    old = tmp_path / "old"
    for folder in ("figures", "tables"):
        (old / folder).mkdir(parents=True)
    (old / "report.html").write_text("<html></html>", encoding="utf-8")
    (old / "outcomes.json").write_text("{}", encoding="utf-8")
    run = {"package_version": "0.1.0", "schema_version": 1}
    (old / "run.json").write_text(json.dumps(run), encoding="utf-8")
    assert check_out_folder(old, "report") == old.resolve()
    with pytest.raises(OutputFolderError):
        check_out_folder(old, "batch")
    (old / "notes.docx").write_bytes(b"mine")
    with pytest.raises(OutputFolderError, match="not empty"):
        check_out_folder(old, "report")
    (old / "notes.docx").unlink()
    (old / "run.json").write_text(json.dumps({"other": "tool"}), encoding="utf-8")
    with pytest.raises(OutputFolderError):
        check_out_folder(old, "report")


def test_a_second_writer_of_one_folder_is_told_who_holds_it(tmp_path):
    out = tmp_path / "out"
    with folder_lock(out) as lock_file:
        pid = lock_file.read_text(encoding="ascii").strip()
        assert pid == str(os.getpid())
        expected = re.escape(f"Another cdanalytics run is writing {out} (pid {pid})")
        with pytest.raises(OutputFolderError, match=expected), folder_lock(out):
            pass
    with folder_lock(out):  # released
        pass
