"""Faults of the machine, each met with one clear line and exit status 2, never a traceback,
and never at the cost of what a study already stored: a corrupt or locked study file, a
read-only run directory, a full disk during an export, and an export that would overwrite."""

import hashlib
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_search import _write_config, tiny_config

from autocompress.cli import main
from autocompress.study import storage as study_module
from autocompress.study.runner import run_search

STUDY = "faults"


@pytest.fixture(scope="module")
def stored(tiny_set, tmp_path_factory) -> tuple[Path, Path]:
    """A finished two-trial study (baseline and one pruned model): its run directory and the
    study file that `search` resumes it with. Tests change copies of it."""
    run_dir = tmp_path_factory.mktemp("stored")
    config = tiny_config(tiny_set, STUDY, trials=2)
    run_search(config, None, run_dir, progress=False)
    return run_dir, _write_config(config, tmp_path_factory.mktemp("config") / "faults.yaml")


def _copy(stored: tuple[Path, Path], tmp_path: Path) -> Path:
    return Path(shutil.copytree(stored[0], tmp_path / "run"))


def _argv(command: str, run_dir: Path, config_file: Path, out: Path) -> list[str]:
    where = ["--run-dir", str(run_dir)]
    study = ["--study", STUDY, *where]
    return {
        "search": ["search", "--config", str(config_file), *where, "--no-progress"],
        "pareto": ["pareto", *study],
        "export": ["export", *study, "--trial", "1", "--out", str(out)],
    }[command]


def _error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autocompress: error: "), err
    return lines[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


def _private_mounts() -> bool:
    """Whether a process may mount file systems of its own here (`unshare -rm`)."""
    unshare = shutil.which("unshare")
    return unshare is not None and subprocess.run([unshare, "-rm", "true"]).returncode == 0


def _cli(*argv: str, prefix: list[str] | tuple = (), **options) -> subprocess.CompletedProcess:
    """The command in a process of its own, for faults that must not touch the test's."""
    command = [*prefix, sys.executable, "-m", "autocompress.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **options)


@pytest.mark.parametrize("command", ["search", "pareto", "export"])
def test_corrupt_study_file_is_named_and_left_alone(command, stored, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    database = run_dir / "study.db"
    garbage = bytes(range(256)) * 64
    database.write_bytes(garbage)
    assert main(_argv(command, run_dir, stored[1], tmp_path / "out")) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"{database.resolve()} is not a readable study database" in line
    assert database.read_bytes() == garbage and os.listdir(run_dir) == ["study.db"]


@pytest.mark.parametrize("command", ["search", "pareto", "export"])
def test_locked_study_file_fails_soon_and_clearly(command, stored, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(study_module, "SQLITE_TIMEOUT_S", 0.5)
    run_dir = _copy(stored, tmp_path)
    database = run_dir / "study.db"
    before = _digest(database)
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, e.g. a second SQLite worker
    try:
        started = time.monotonic()
        assert main(_argv(command, run_dir, stored[1], tmp_path / "out")) == 2
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = _error_line(capsys.readouterr().err)
    assert f"study database {database.resolve()} is locked by another process" in line
    assert "journal" in line and "PostgreSQL" in line
    assert waited < 60 and _digest(database) == before


@pytest.mark.parametrize("command", ["search", "export"])
def test_directory_under_a_regular_file_is_refused(command, stored, tmp_path, capsys):
    """Root-proof: no permission bits involved, the path itself cannot be a directory."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    run_dir = blocker / "run" if command == "search" else _copy(stored, tmp_path)
    out = blocker / "export"
    assert main(_argv(command, run_dir, stored[1], out)) == 2
    line = _error_line(capsys.readouterr().err)
    what = "run directory" if command == "search" else "export directory"
    target = run_dir if command == "search" else out
    assert f"cannot create {what} {target}: Not a directory" in line
    assert blocker.read_text() == "not a directory"


def test_journal_that_cannot_be_opened_is_named(tmp_path, capsys):
    journal = tmp_path / "journal"
    journal.mkdir()  # a directory where the journal file should be
    assert main(["pareto", "--storage", f"journal:{journal}", "--run-dir", str(tmp_path)]) == 2
    assert f"cannot open journal {journal}: Is a directory" in _error_line(capsys.readouterr().err)


def _chattr(flag: str, paths: list[Path]) -> bool:
    chattr = shutil.which("chattr")
    return chattr is not None and subprocess.run([chattr, flag, *map(str, paths)]).returncode == 0


@pytest.fixture()
def read_only():
    """Make a directory really read-only for a command; returns the command's prefix.

    A normal user: mode 0o555. Root ignores modes, so for root: the immutable attribute
    (`chattr +i`, which stops root too) on the directory and its files, removed afterwards;
    where the file system or the container refuses it, a read-only bind mount in a private
    mount namespace (`unshare -rm`; the test's own view stays writable)."""
    immutable: list[Path] = []

    def make(directory: Path) -> list[str]:
        if os.geteuid() != 0:
            directory.chmod(0o555)
            return []
        paths = [directory, *directory.iterdir()]
        if _chattr("+i", paths):
            immutable.extend(paths)
            return []
        if _private_mounts():
            mount = 'mount --bind -o ro "$0" "$0" && exec "$@"'
            return ["unshare", "-rm", "sh", "-c", mount, str(directory)]
        pytest.skip(
            "running as root where neither `chattr +i` (file system or CAP_LINUX_IMMUTABLE) "
            "nor `unshare -rm` can make a directory read-only"
        )

    yield make
    if immutable:
        assert _chattr("-i", immutable)


def test_read_only_fresh_run_dir_is_refused_by_search(stored, tmp_path, read_only):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    done = _cli(*_argv("search", run_dir, stored[1], tmp_path), prefix=read_only(run_dir))
    assert done.returncode == 2
    line = _error_line(done.stderr)
    assert f"run directory {run_dir} is not writable" in line
    assert os.listdir(run_dir) == []


def test_read_only_run_dir_with_a_study_can_still_be_read(stored, tmp_path, read_only):
    run_dir = _copy(stored, tmp_path)
    before = _digest(run_dir / "study.db")
    prefix = read_only(run_dir)

    search = _cli(*_argv("search", run_dir, stored[1], tmp_path), prefix=prefix)
    assert search.returncode == 2
    assert f"run directory {run_dir} is not writable" in _error_line(search.stderr)

    pareto = _cli(*_argv("pareto", run_dir, stored[1], tmp_path), prefix=prefix)
    assert pareto.returncode == 2 and "baseline (uncompressed)" in pareto.stdout
    plot = run_dir / f"{STUDY}-pareto.png"
    assert f"cannot write the plot {plot}: " in _error_line(pareto.stderr)

    elsewhere = tmp_path / "plots" / "front.png"
    pareto = _cli(
        *_argv("pareto", run_dir, stored[1], tmp_path), "--plot", str(elsewhere), prefix=prefix
    )
    assert pareto.returncode == 0 and elsewhere.is_file()

    out = run_dir / "export"
    export = _cli(*_argv("export", run_dir, stored[1], out), prefix=prefix)
    assert export.returncode == 2
    assert f"cannot create export directory {out}: " in _error_line(export.stderr)
    assert sorted(os.listdir(run_dir)) == ["study.db"] and _digest(run_dir / "study.db") == before


def _earlier_export(out: Path) -> dict[str, bytes]:
    """Files an earlier export of trial 1 left, and one of the user's own."""
    out.mkdir()
    for name in (f"{STUDY}-trial1.pt", f"{STUDY}-trial1.json", "notes.txt"):
        (out / name).write_bytes(f"earlier {name}".encode())
    return _files(out)


def _limit_file_size(limit: int):
    """A file size limit for a child process: writing past it fails with EFBIG, as a full
    disk fails with ENOSPC (Python ignores SIGXFSZ, so the write raises)."""

    def apply() -> None:
        resource.setrlimit(
            resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1])
        )

    return apply


def test_export_past_a_file_size_limit_leaves_nothing_half_written(stored, tmp_path):
    run_dir = _copy(stored, tmp_path)
    before = _digest(run_dir / "study.db")
    out = tmp_path / "out"
    earlier = _earlier_export(out)
    argv = [*_argv("export", run_dir, stored[1], out), "--overwrite"]
    done = _cli(*argv, preexec_fn=_limit_file_size(2**20))  # the artifact is larger
    assert done.returncode == 2
    line = _error_line(done.stderr)
    assert f"cannot write the export to {out}: File too large" in line
    assert _files(out) == earlier and _digest(run_dir / "study.db") == before


def _may_mount() -> bool:
    """Whether this (root) process may mount a file system, e.g. not in a container without
    CAP_SYS_ADMIN."""
    with tempfile.TemporaryDirectory() as probe:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe])
        if mounted.returncode != 0:
            return False
        subprocess.run(["umount", probe], check=True)
        return True


def test_export_to_a_full_file_system_leaves_nothing_half_written(stored, tmp_path):
    """A real full disk: a 1 MiB tmpfs mounted on the export directory (by root directly, and
    unmounted after; by a normal user in a private mount namespace); what is left in it is
    listed before it goes."""
    run_dir = _copy(stored, tmp_path)
    before = _digest(run_dir / "study.db")
    out = tmp_path / "out"
    out.mkdir()
    script = (
        'mount -t tmpfs -o size=1m tmpfs "$0" && "$@"; status=$?; echo left:; ls -A "$0"; '
        'umount "$0"; exit $status'
    )
    if os.geteuid() == 0 and _may_mount():
        prefix = ["sh", "-c", script, str(out)]
    elif _private_mounts():
        prefix = ["unshare", "-rm", "sh", "-c", script, str(out)]
    else:
        pytest.skip(
            "may not mount a small file system here: not as root (no CAP_SYS_ADMIN) nor by "
            "`unshare -rm`"
        )
    try:
        done = _cli(*_argv("export", run_dir, stored[1], out), prefix=prefix)
    finally:
        if os.path.ismount(out):  # the script was killed before it unmounted
            subprocess.run(["umount", "-l", str(out)], check=True)
    assert done.returncode == 2
    line = _error_line(done.stderr)
    assert f"cannot write the export to {out}: No space left on device" in line
    assert done.stdout.split("left:")[1].split() == []
    assert _digest(run_dir / "study.db") == before


def test_export_replaces_an_earlier_one_only_with_overwrite(stored, tmp_path, capsys):
    """Other files in --out are fine and stay; this trial's own are replaced on request only."""
    run_dir = _copy(stored, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    argv = _argv("export", run_dir, stored[1], out)
    assert main(argv) == 0
    first = _files(out)
    artifact = out / f"{STUDY}-trial1.pt"
    inode = artifact.stat().st_ino
    assert sorted(first) == sorted(
        ["notes.txt", *(f"{STUDY}-trial1{suffix}" for suffix in (".pt", ".pt2", ".json"))]
    )
    capsys.readouterr()

    assert main(argv) == 2
    line = _error_line(capsys.readouterr().err)
    assert f"{out} already holds trial 1's export" in line and "--overwrite" in line
    assert _files(out) == first

    assert main([*argv, "--overwrite"]) == 0
    again = _files(out)
    assert sorted(again) == sorted(first) and again["notes.txt"] == b"mine"
    assert artifact.stat().st_ino != inode  # a new file, renamed into place
