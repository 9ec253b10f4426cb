"""Patient-level files are private to their owner; published output is not.

Every test sets a permissive umask (``0o022``, or ``0o000``) first: the modes must not depend
on it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsol_analytics import synth
from bsol_analytics.cleaning.pipeline import prepare
from bsol_analytics.io import (
    atomic_directory,
    atomic_write_bytes,
    atomic_write_text,
    make_private,
    private_directory,
)

UMASKS = [0o022, 0o000, 0o002]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=UMASKS, ids=lambda m: f"umask{m:03o}")
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    return synth.generate(tmp_path_factory.mktemp("perm") / "extract", patients=200, seed=3).out


def _assert_private_tree(root: Path) -> None:
    assert _mode(root) == 0o700, root
    paths = list(root.rglob("*"))
    assert paths, "nothing was written"
    for path in paths:
        expected = 0o700 if path.is_dir() else 0o600
        assert _mode(path) == expected, (path, oct(_mode(path)))


def test_prepare_writes_owner_only_tables(tmp_path, umask, extract):
    out = tmp_path / "data" / "processed"
    prepare(extract, out, progress=False)
    assert {p.name for p in out.glob("*.parquet")} >= {
        "patients.parquet",
        "clinical_events.parquet",
    }
    _assert_private_tree(out)
    # The parent folder is an ordinary folder; only the patient-level one is restricted.
    assert _mode(tmp_path / "data") == 0o777 & ~umask


def test_prepare_restricts_a_folder_published_earlier(tmp_path, umask, extract):
    out = tmp_path / "processed"
    out.mkdir(mode=0o755)
    os.chmod(out, 0o755)
    (out / "old.txt").write_text("earlier")
    prepare(extract, out, progress=False)
    _assert_private_tree(out)
    assert not (out / "old.txt").exists()


@pytest.mark.parametrize(
    ("private", "dir_mode", "file_mode"),
    [(True, 0o700, 0o600), (False, None, None)],
    ids=["private", "published"],
)
def test_atomic_directory_modes(tmp_path, umask, private, dir_mode, file_mode):
    target = tmp_path / "out"
    with atomic_directory(target, private=private) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "table.parquet").write_bytes(b"x")
        atomic_write_text(tmp / "meta.json", "{}")
        fd = os.open(tmp / "raw.bin", os.O_WRONLY | os.O_CREAT, 0o666)
        os.close(fd)
    dir_mode = 0o777 & ~umask if dir_mode is None else dir_mode
    file_mode = 0o666 & ~umask if file_mode is None else file_mode
    assert _mode(target) == dir_mode
    assert _mode(target / "sub") == dir_mode
    for name in ("sub/table.parquet", "meta.json", "raw.bin"):
        assert _mode(target / name) == file_mode, name


@pytest.mark.parametrize(("private", "expected"), [(True, 0o600), (False, None)])
def test_atomic_write_modes(tmp_path, umask, private, expected):
    expected = 0o666 & ~umask if expected is None else expected
    assert _mode(atomic_write_bytes(tmp_path / "a.bin", b"x", private=private)) == expected
    assert _mode(atomic_write_text(tmp_path / "b.txt", "x", private=private)) == expected


def test_private_directory_new_and_existing(tmp_path, umask):
    fresh = private_directory(tmp_path / "parent" / "work")
    assert _mode(fresh) == 0o700
    assert _mode(tmp_path / "parent") == 0o777 & ~umask
    existing = tmp_path / "existing"
    existing.mkdir()
    os.chmod(existing, 0o755)
    (existing / "t.csv").write_text("a\n")
    os.chmod(existing / "t.csv", 0o644)
    _assert_private_tree(private_directory(existing))
    temp = private_directory(prefix="bsol-test-")
    try:
        assert _mode(temp) == 0o700
    finally:
        temp.rmdir()


def test_make_private_leaves_symlink_targets_alone(tmp_path, umask):
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    os.chmod(outside, 0o644)
    work = tmp_path / "work"
    work.mkdir()
    (work / "link").symlink_to(outside)
    (work / "own.txt").write_text("y")
    make_private(work)
    assert _mode(outside) == 0o644
    assert _mode(work / "own.txt") == 0o600


_names = st.text(alphabet="abcxyz_0123", min_size=1, max_size=6)
_trees = st.recursive(
    st.just(b"data"),
    lambda children: st.dictionaries(_names, children, min_size=1, max_size=3),
    max_leaves=8,
)


def _build(root: Path, tree: dict) -> None:
    for name, sub in tree.items():
        if isinstance(sub, dict):
            (root / name).mkdir()
            _build(root / name, sub)
        else:
            (root / name).write_bytes(sub)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=st.dictionaries(_names, _trees, min_size=1, max_size=3), mask=st.sampled_from(UMASKS))
def test_private_atomic_directory_property(tmp_path_factory, tree, mask):
    """Whatever is written, and under any umask, a private folder ends up owner-only."""
    old = os.umask(mask)
    try:
        target = tmp_path_factory.mktemp("prop") / "out"
        with atomic_directory(target, private=True) as tmp:
            _build(tmp, tree)
    finally:
        os.umask(old)
    _assert_private_tree(target)
