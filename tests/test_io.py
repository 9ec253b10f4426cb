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
