import pytest

from bsol_analytics.io import atomic_directory, atomic_write_text


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
