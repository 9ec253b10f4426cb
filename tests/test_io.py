import os

import pytest

from bsol_analytics.io import atomic_directory, atomic_write_text, recover_directory


def test_atomic_directory_replaces_whole_folder(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("first")
        (tmp / "b.txt").write_text("first")
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert (target / "a.txt").read_text() == "second"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_atomic_directory_keeps_the_notes_it_is_told_to(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "README.md").write_text("notes")
    (target / "old.parquet").write_text("old")
    with atomic_directory(target, keep=("README.md", "missing.txt")) as tmp:
        (tmp / "new.parquet").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "new.parquet"]
    assert (target / "README.md").read_text() == "notes"
    with atomic_directory(target, keep=("README.md",)) as tmp:
        (tmp / "README.md").write_text("written by the run")
    assert (target / "README.md").read_text() == "written by the run"


def test_prepare_keeps_the_output_folders_readme(tmp_path):
    from bsol_analytics.cli import main

    raw, out = tmp_path / "raw", tmp_path / "processed"
    assert main(["-q", "synth", "--out", str(raw), "--patients", "300"]) == 0
    out.mkdir()
    (out / "README.md").write_text("# data/processed")
    assert main(["-q", "prepare", str(raw), "--out", str(out)]) == 0
    assert (out / "README.md").read_text() == "# data/processed"
    assert (out / "patients.parquet").exists()


def test_atomic_directory_failure_leaves_previous_output(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("good")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise Boom
    assert (target / "a.txt").read_text() == "good"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_atomic_write_text(tmp_path):
    path = atomic_write_text(tmp_path / "sub" / "x.txt", "héllo")
    assert path.read_text(encoding="utf-8") == "héllo"


def test_published_output_is_readable_by_others(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        with atomic_directory(tmp_path / "out") as tmp:
            atomic_write_text(tmp / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "out" / "a.txt").stat().st_mode) == 0o644


def _failing_replace(monkeypatch, fail_on, exc):
    """Make the ``fail_on``-th call of ``os.replace`` raise ``exc``."""
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == fail_on:
            raise exc
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("exc", [OSError("disk gone"), KeyboardInterrupt()])
def test_swap_interrupted_between_renames_keeps_old_target(tmp_path, monkeypatch, exc):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("good")
    calls = _failing_replace(monkeypatch, 2, exc)
    with pytest.raises(type(exc)), atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("new")
    monkeypatch.undo()
    assert len(calls) == 3  # target -> backup, tmp -> target (fails), backup -> target
    assert (target / "a.txt").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_swap_failing_on_first_rename_keeps_old_target(tmp_path, monkeypatch):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("good")
    _failing_replace(monkeypatch, 1, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt), atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("new")
    monkeypatch.undo()
    assert (target / "a.txt").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_first_publication_failure_leaves_nothing(tmp_path, monkeypatch):
    _failing_replace(monkeypatch, 1, OSError("no"))
    with pytest.raises(OSError), atomic_directory(tmp_path / "out") as tmp:
        (tmp / "a.txt").write_text("new")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_custom_prefix_names_the_staging_folder(tmp_path):
    with atomic_directory(tmp_path / "out", prefix=".mine-") as tmp:
        assert tmp.name.startswith(".mine-")
        assert tmp.parent == tmp_path


def test_recover_directory_after_a_kill_between_renames(tmp_path):
    target = tmp_path / "out"
    backup = tmp_path / ".out.old-999999999"  # no such process
    backup.mkdir()
    (backup / "a.txt").write_text("good")
    assert recover_directory(target)
    assert (target / "a.txt").read_text() == "good"
    assert not backup.exists()
    assert not recover_directory(target)  # target present: nothing to do


def test_recover_directory_leaves_a_live_swap_alone(tmp_path):
    backup = tmp_path / f".out.old-{os.getpid()}"
    backup.mkdir()
    assert not recover_directory(tmp_path / "out")
    assert backup.is_dir()
