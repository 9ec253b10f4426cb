"""Publication of a run: the index page, the run manifest and the atomic swap into place.

A run's pages are staged beside ``<reports>/<reporting_date>/`` and replace it in one
rename; packs the run did not rebuild, and the last good page of a pack that failed, are
carried over from the earlier run.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import platform
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bsol_analytics import __version__
from bsol_analytics.io import file_sha256, pid_alive, recover_directory
from bsol_analytics.report import (
    SYNTHETIC_LABEL,
    coverage_sentence,
    fmt_date,
    page_banner_css,
    provenance_banner,
    slug,
)

log = logging.getLogger("bsol_analytics.packs")

#: The nbconvert template folder (template ``bsol``), also styling the index page.
TEMPLATE_DIR: Path = Path(__file__).resolve().parent.parent / "templates"


def pack_file_name(pack: str) -> str:
    """The HTML file name of a pack.

    Examples:
        >>> pack_file_name("Solihull"), pack_file_name("BSOL")
        ('solihull.html', 'bsol.html')
    """
    return f"{slug(pack)}.html"


def render_index(packs: Sequence[dict[str, Any]], info: dict[str, Any]) -> str:
    """The ``index.html`` listing every pack with its status (and error).

    Examples:
        >>> page = render_index([{"pack": "East", "status": "failed", "error": "boom",
        ...     "file": None}], {"reporting_date": "2025-03-31", "finished": "now"})
        >>> 'lang="en-GB"' in page and "boom" in page
        True
    """
    css = (TEMPLATE_DIR / "bsol" / "pack.css").read_text()
    rows = []
    words = {
        "ok": "built",
        "failed": "failed (no earlier pack to show)",
        "stale": "failed: showing the earlier pack",
        "no-data": "not built: no patients in this extract",
    }
    for p in packs:
        status = p["status"]
        name = html.escape(p["pack"])
        link = f'<a href="{html.escape(p["file"])}">{name}</a>' if p.get("file") else name
        detail = html.escape(p.get("error") or "")
        if p.get("carried"):
            detail = f"not rebuilt in this run; built {html.escape(str(p.get('stale_since')))}"
        elif status == "stale" and p.get("stale_since"):
            detail += f" (earlier pack built {html.escape(str(p['stale_since']))})"
        rows.append(
            f'<tr><th scope="row">{link}</th><td class="status-{status}">'
            f"{words.get(status, status)}</td><td>{detail}</td></tr>"
        )
    failed = [p for p in packs if p["status"] not in ("ok", "no-data")]
    notice = (
        f'<p class="notice">{len(failed)} of {len(packs)} packs failed in this run. '
        "See the table and run.log.</p>"
        if failed
        else ""
    )
    when = fmt_date(info["reporting_date"])
    banner = provenance_banner(info)
    synthetic = info.get("synthetic") or info.get("demo")
    page_css = f"<style>{page_banner_css(SYNTHETIC_LABEL)}</style>" if synthetic else ""
    covered = coverage_sentence(info.get("localities_covered"))
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Locality packs, reporting date {when}</title>
<style>{css}</style>{page_css}</head>
<body>
<header class="pack-header"><p class="org">Birmingham and Solihull population health analytics</p>
</header>
<main id="main" style="max-width: 60rem; margin: 0 auto;">
<h1>Locality packs: reporting date {when}</h1>
{banner}
{covered}
{notice}
<table class="data"><caption>Packs in this run</caption>
<thead><tr><th scope="col">Pack</th><th scope="col">Status</th><th scope="col">Details</th></tr>
</thead><tbody>{"".join(rows)}</tbody></table>
<p class="meta">Run finished {html.escape(str(info.get("finished", "")))}; bsol_analytics
{html.escape(__version__)}. The run manifest is in manifest.json and the log in run.log.</p>
</main></body></html>
"""


def file_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path → hex digest).

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("x")
        >>> file_checksums(d)["a.txt"][:8]
        '2d711642'
    """
    out = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        out[path.relative_to(folder).as_posix()] = file_sha256(path)
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    names = [
        "pandas",
        "numpy",
        "narwhals",
        "duckdb",
        "matplotlib",
        "geopandas",
        "papermill",
        "nbconvert",
    ]
    out = {"python": platform.python_version(), "bsol_analytics": __version__}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def previous_manifest(target: Path) -> dict[str, Any]:
    """The manifest of the run published at ``target`` (empty when there is none)."""
    path = target / "manifest.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


#: Name prefix of a run's staging folder in the reports root (followed by its process id).
STAGE_PREFIX = ".bsol-packs-stage-"


def sweep_stale(out_root: Path, target: Path, before: float) -> list[Path]:
    """Remove what killed runs left in the reports root, and restore a half-swapped target.

    A run stopped by ``Ctrl-C``, ``SIGTERM`` or an error cleans up after itself; one killed
    outright (``SIGKILL``, power loss) can leave a staging folder (``.bsol-packs-*``), an
    unpublished ``.<date>.tmp-*`` folder, or the previous publication renamed to
    ``.<date>.old-<pid>``. A missing ``target`` is first put back from its backup
    (:func:`bsol_analytics.io.recover_directory`); then such folders last changed before
    ``before`` whose run is no longer alive are removed.

    Args:
        out_root: the reports folder.
        target: the folder this run publishes (``<out_root>/<reporting_date>``).
        before: a POSIX time; newer folders are left alone.

    Returns:
        The folders removed.

    Examples:
        >>> import tempfile, pathlib, time
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / ".bsol-packs-stage-999999999-x1").mkdir()
        >>> [p.name for p in sweep_stale(root, root / "2025-03-31", time.time() + 1)]
        ['.bsol-packs-stage-999999999-x1']
    """
    recover_directory(target)
    removed = []
    name = re.escape(target.name)
    owner = re.compile(rf"{re.escape(STAGE_PREFIX)}(\d+)-|\.{name}\.old-(\d+)$")
    candidates = [
        *out_root.glob(".bsol-packs-*"),
        *out_root.glob(f".{target.name}.tmp-*"),
        *out_root.glob(f".{target.name}.old-*"),
    ]
    for path in candidates:
        found = owner.match(path.name)
        pid = int(found.group(1) or found.group(2)) if found else None
        if pid is not None and pid != os.getpid() and pid_alive(pid):
            continue  # another run is publishing right now
        try:
            if not path.is_dir() or path.stat().st_mtime >= before:
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        log.warning("Removed %s, left by an interrupted run", path)
        removed.append(path)
    return removed


def carry_over(
    previous: dict[str, Any], target: Path, stage: Path, packs: Sequence[str]
) -> list[dict[str, Any]]:
    """Keep the published packs of an earlier run that this run did not rebuild."""
    kept = []
    for entry in previous.get("packs", []):
        name, file = entry.get("pack"), entry.get("file")
        if name in packs or not file or not (target / file).is_file():
            continue
        shutil.copy2(target / file, stage / file)
        kept.append(
            {
                "pack": name,
                "status": entry.get("status", "ok"),
                "error": entry.get("error"),
                "file": file,
                "bytes": entry.get("bytes"),
                "timings": {},
                "carried": True,
                "stale_since": entry.get("built"),
            }
        )
        log.info("Pack %s kept from the earlier run (not rebuilt this time)", name)
    return kept


def make_readable(folder: Path) -> None:
    """Published reports are world-readable (temporary folders are created private)."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _built_at(manifest: dict[str, Any], pack: str) -> str | None:
    for p in manifest.get("packs", []):
        if p.get("pack") == pack:
            return p.get("built")
    return None


def stage_results(
    results: list[dict[str, Any]], previous: dict[str, Any], target: Path, stage: Path, work: Path
) -> None:
    """Move this run's pages into the staging folder; keep the last good page of a failure.

    A failed pack keeps its earlier published page (marked stale) and its executed notebook
    and kernel log go to ``failed/``.
    """
    for r in results:
        if r.get("carried") or r["status"] == "no-data":
            continue
        if r["status"] == "ok":
            shutil.move(work / "html" / pack_file_name(r["pack"]), stage / r["file"])
            continue
        log.error("Pack %s failed: %s", r["pack"], r["error"])
        old = target / pack_file_name(r["pack"])
        if old.exists():
            shutil.copy2(old, stage / old.name)
            r.update(status="stale", file=old.name)
            r["stale_since"] = _built_at(previous, r["pack"])
        for kept in (Path(r.get("executed", "")), work / f"{slug(r['pack'])}.kernel.log"):
            if kept.is_file():
                (stage / "failed").mkdir(exist_ok=True)
                shutil.copy2(kept, stage / "failed" / kept.name)


def run_manifest(
    rd: dt.date,
    parameters: dict[str, Any],
    started: dt.datetime,
    finished: dt.datetime,
    inputs: dict[str, str],
    timings: dict[str, float],
    results: list[dict[str, Any]],
    sdc_audit: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``manifest.json`` of a run: parameters, versions, input checksums, timings, packs.

    ``sdc_audit`` is the disclosure audit of the run's tables (passed, cells checked,
    components, seconds, policy: ``ProtectedRun.summary()``), recorded as ``disclosure_audit``.
    """
    return {
        "reporting_date": rd.isoformat(),
        "parameters": parameters,
        "disclosure_audit": sdc_audit,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "versions": _versions(),
        "inputs_sha256": inputs,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "packs": [
            {
                "pack": r["pack"],
                "status": r["status"],
                "error": r.get("error"),
                "file": r.get("file"),
                "bytes": r.get("bytes"),
                "built": (
                    finished.isoformat(timespec="seconds")
                    if r["status"] == "ok" and not r.get("carried")
                    else r.get("stale_since")
                ),
                "timings_seconds": {k: round(v, 3) for k, v in r["timings"].items()},
            }
            for r in results
        ],
    }


__all__ = [
    "STAGE_PREFIX",
    "TEMPLATE_DIR",
    "carry_over",
    "file_checksums",
    "make_readable",
    "pack_file_name",
    "previous_manifest",
    "render_index",
    "run_manifest",
    "stage_results",
    "sweep_stale",
]
