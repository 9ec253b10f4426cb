"""The package's layers only point down: no module imports from a layer above it.

The map, lowest layer first (``docs/architecture.md`` draws it)::

    errors, vocabulary, paths, io, compute
    dates, contract, reference, stats
    cleaning, synth, indicators, sdc
    datafolder, protection
    table
    plots
    report
    packs
    commands, cli

A module may import from its own layer or any layer below. Imports inside functions count
too, and the package's own modules are never imported inside ``try: ... except
ImportError``. No function is longer than :data:`MAX_FUNCTION_LINES` lines of code (its
docstring, blank lines and comment lines not counted; nested functions count towards the
function that holds them).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bsol_analytics

PACKAGE = Path(bsol_analytics.__file__).resolve().parent

#: Top-level module or package -> layer (0 lowest).
LAYERS: dict[str, int] = {
    "__init__": 0,
    "errors": 0,
    "vocabulary": 0,
    "paths": 0,
    "io": 0,
    "compute": 0,
    "dates": 1,
    "contract": 1,
    "reference": 1,
    "stats": 1,
    "sdc": 2,
    "cleaning": 2,
    "synth": 2,
    "indicators": 2,
    "datafolder": 3,
    "protection": 3,
    "table": 4,
    "plots": 5,
    "report": 6,
    "packs": 7,
    "commands": 8,
    "cli": 8,
    "__main__": 8,
}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(p for p in rel.parts if p != "__init__") or "bsol_analytics"


def _imports(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """(line, imported bsol_analytics module) for every import in ``tree``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: resolve against the importing package
                base = ".".join(module.split(".")[: -node.level] + ([base] if base else []))
            if base == "bsol_analytics":  # from bsol_analytics import plots, report
                found += [
                    (
                        node.lineno,
                        "bsol_analytics" if a.name.startswith("__") else f"bsol_analytics.{a.name}",
                    )
                    for a in node.names
                ]
            else:
                found.append((node.lineno, base))
    return [(line, m) for line, m in found if m.split(".")[0] == "bsol_analytics"]


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    module = _module_name(path)
    own = _top(module)
    assert own in LAYERS, f"{module} is not on the layer map: add it to LAYERS and the docs"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    upward = [
        f"line {line}: {module} (layer {LAYERS[own]}) imports {target} "
        f"(layer {LAYERS.get(_top(target), '?')})"
        for line, target in _imports(tree, module)
        if _top(target) != own and LAYERS.get(_top(target), 99) > LAYERS[own]
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_fallbacks_on_own_modules(path):
    module = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    fallbacks = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        catches = {
            getattr(h.type, "id", None) for h in node.handlers if isinstance(h.type, ast.Name)
        }
        if {"ImportError", "ModuleNotFoundError"} & catches:
            body = ast.Module(body=node.body, type_ignores=[])
            fallbacks += [f"line {line}: {m}" for line, m in _imports(body, module)]
    assert not fallbacks, "imports of the package's own modules with a fallback:\n" + "\n".join(
        fallbacks
    )


@pytest.mark.parametrize(
    ("source", "upward"),
    [
        ("from bsol_analytics.packs import run_packs\n", True),
        ("from bsol_analytics import report\n", True),
        ("def f():\n    from bsol_analytics.report import slug\n", True),
        ("from bsol_analytics.indicators import compute_cube\n", False),
        ("from bsol_analytics.table import rollup\n", False),
    ],
)
def test_the_check_sees_upward_imports(source, upward):
    """The check itself: an import in ``table`` of ``report`` or ``packs`` is upward."""
    found = [
        m
        for _, m in _imports(ast.parse(source), "bsol_analytics.table")
        if LAYERS[_top(m)] > LAYERS["table"]
    ]
    assert bool(found) is upward


#: The longest a function may be, in lines of code.
MAX_FUNCTION_LINES = 120


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    """Lines of code in a function: no docstring, blank or comment-only lines."""
    first = node.body[0]
    doc = (
        set(range(first.lineno, first.end_lineno + 1))
        if isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        else set()
    )
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return sum(
        1
        for i in range(start, node.end_lineno + 1)
        if i not in doc and lines[i - 1].strip() and not lines[i - 1].strip().startswith("#")
    )


def _function_lengths(source: str) -> dict[str, int]:
    """``"name:line"`` -> lines of code of every function (two of one name both count)."""
    lines = source.splitlines()
    return {
        f"{node.name}:{node.lineno}": _code_lines(node, lines)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_functions_are_short(path):
    lengths = _function_lengths(path.read_text(encoding="utf-8"))
    long = {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines of code: {long}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    return 1\n", {"f:1": 2}),
        ('def f():\n    """Doc.\n\n    More.\n    """\n    return 1\n', {"f:1": 2}),
        ("def f():\n    # note\n\n    x = 1\n    return x\n", {"f:1": 3}),
        ("@cache\ndef f():\n    def g():\n        pass\n    return g\n", {"f:2": 5, "g:3": 2}),
        ("def f():\n    return 1\n\n\ndef f():\n    x = 1\n    return x\n", {"f:1": 2, "f:5": 3}),
    ],
)
def test_the_length_check_counts_code_only(source, expected):
    """The counter itself: docstrings, blanks and comments are free; nested code counts."""
    assert _function_lengths(source) == expected
