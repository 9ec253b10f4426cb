"""A packs run, as named steps: check, compute the tables once, execute, stage, publish.

Each pack is the report notebook executed with papermill in a worker process and converted
to one self-contained HTML page with nbconvert; :func:`run_packs` runs the steps.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import datetime as dt
import functools
import json
import logging
import multiprocessing
import multiprocessing.synchronize
import multiprocessing.util
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from bsol_analytics import __version__
from bsol_analytics.dates import parse_date
from bsol_analytics.errors import BsolError, ParameterError
from bsol_analytics.io import (
    PRIVATE_FILE_MODE,
    atomic_directory,
    atomic_write_text,
    make_private,
    private_directory,
)
from bsol_analytics.packs.publication import (
    STAGE_PREFIX,
    TEMPLATE_DIR,
    carry_over,
    file_checksums,
    make_readable,
    pack_file_name,
    previous_manifest,
    render_index,
    run_manifest,
    stage_results,
    sweep_stale,
)
from bsol_analytics.packs.tables import compute_tables
from bsol_analytics.paths import NOTEBOOKS_DIR
from bsol_analytics.report import (
    SYNTHETIC_LABEL,
    fmt_date,
    mark_print,
    mark_synthetic,
    page_banner_css,
    slug,
)
from bsol_analytics.report.loading import localities_covered
from bsol_analytics.report.parameters import check_view_imd, parse_localities, validate_parameters
from bsol_analytics.vocabulary import BSOL

log = logging.getLogger("bsol_analytics.packs")

#: The report notebook run for every pack.
NOTEBOOK: Path = NOTEBOOKS_DIR / "locality_pack.ipynb"
#: Exit code when some packs failed and the others were published.
EXIT_PACKS_FAILED = 4


def toc_html(notebook: Any) -> str:
    """Build the table of contents from the ``<h2 id=...>`` headings in HTML outputs.

    Examples:
        >>> import nbformat
        >>> nb = nbformat.v4.new_notebook()
        >>> out = nbformat.v4.new_output("display_data",
        ...     data={"text/html": '<h2 id="at-a-glance">At a glance</h2>'})
        >>> nb.cells.append(nbformat.v4.new_code_cell(outputs=[out]))
        >>> toc_html(nb)
        '<ol><li><a href="#at-a-glance">At a glance</a></li></ol>'
    """
    items = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/html", "")
            if isinstance(text, list):
                text = "".join(text)
            for hid, title in re.findall(r'<h2 id="([^"]+)">(.*?)</h2>', text):
                items.append(f'<li><a href="#{hid}">{title}</a></li>')
    return f"<ol>{''.join(items)}</ol>"


def notebook_to_html(executed: Path, title: str, footer: str = "", synthetic: bool = False) -> str:
    """Convert an executed pack notebook to one self-contained HTML page.

    Code cells, prompts, stderr streams and anchor links are left out; the ``bsol``
    template adds the ``<nav>`` table of contents and the CSS inline. A ``synthetic`` pack
    carries the synthetic-data banner on screen and on every printed page, and every data
    table's caption says so.
    """
    import nbformat

    return _convert(nbformat.read(executed, as_version=4), title, footer, synthetic)


def _convert(nb: Any, title: str, footer: str = "", synthetic: bool = False) -> str:
    """The page of an executed notebook (see :func:`notebook_to_html`)."""
    nb.cells = [c for c in nb.cells if "remove-cell" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream") and not (o.get("output_type") == "error")
            ]
    exporter = _page_exporter()(
        template_name="bsol",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
    )
    resources = {
        "metadata": {"name": title},
        "toc_html": toc_html(nb),
        "footer_text": footer,
        "page_banner_css": page_banner_css(f"{SYNTHETIC_LABEL}. Every figure is invented.")
        if synthetic
        else "",
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = mark_print(body)
    return mark_synthetic(body) if synthetic else body


@functools.cache
def _page_exporter() -> type:
    """The HTML exporter of nbconvert 7, writing the page as the template renders it.

    nbconvert's own HTML exporter re-parses the rendered page with BeautifulSoup and
    writes it out again (most of the conversion's time) only to give images without alt
    text a placeholder and to make JupyterLab cells focusable: every image of a pack has
    its alt text and the pack's template has no JupyterLab cells, so the page is the same
    document without that pass (its attributes keep the order they were written in).
    """
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    if not hasattr(HTMLExporter, "_init_resources"):
        return HTMLExporter  # another nbconvert than the one this mirrors: its own pass

    class PageExporter(HTMLExporter):
        def from_notebook_node(self, nb: Any, resources: Any = None, **kw: Any) -> Any:
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight = self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
            )
            resources = self._init_resources(resources)
            widgets = WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            )
            self.register_filter("highlight_code", highlight)
            self.register_filter("filter_data_type", widgets)
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)

    return PageExporter


def _warm_worker(
    work: str | None = None, turn: multiprocessing.synchronize.Lock | None = None
) -> None:
    """Load what building a pack needs (papermill, nbconvert, the page template) once.

    Run by every notebook worker as it starts, so that the imports are done while the
    pack tables are computed rather than before the first pack. With ``work`` (the run's
    private folder) the worker also starts the kernel its packs run in, with the report's
    modules imported (see :func:`build_pack`). With ``turn`` (a lock shared by the
    workers) the workers warm up one after the other: the warm-ups overlap disclosure
    control, which runs on one core, and one at a time they leave it the other core (a
    worker waits at most :data:`KERNEL_TIMEOUT` for its turn). A failure here is left for
    the pack's own build to report.
    """
    # A worker killed while holding the turn must not hold up the others for good.
    has_turn = turn is not None and turn.acquire(timeout=KERNEL_TIMEOUT)
    try:
        import nbformat
        import papermill  # noqa: F401

        _convert(nbformat.v4.new_notebook(), "warm-up")
        if work is not None:
            _warm_kernel(Path(work))
    except Exception:
        log.debug("Worker warm-up failed", exc_info=True)
    finally:
        if has_turn:
            turn.release()


#: Code a worker's kernel runs once as it starts: the imports of the report notebook, and
#: the garbage collector's thresholds for building packs (see :data:`GC_THRESHOLDS`).
KERNEL_WARM_UP = (
    "import gc as _gc\n"
    "_gc.set_threshold(*{thresholds!r})\n"
    "del _gc\n"
    "import matplotlib.backends.backend_svg\n"
    "import matplotlib.pyplot\n"
    "import geopandas\n"
    "import PIL.Image\n"
    "import pyarrow.parquet\n"
    "import bsol_analytics.packs\n"
    "import bsol_analytics.report\n"
    "import bsol_analytics.report.messages\n"
)
#: Code run in a worker's kernel before each pack: an empty namespace (``%reset`` also
#: collects the last pack's garbage), no figure left open, the run's folder as the working
#: folder and cells numbered from 1 again, as in a new kernel; imported modules stay loaded.
KERNEL_RESET = (
    "%reset -f\n"
    "import os as _os\n"
    "import matplotlib.pyplot as _plt\n"
    "_plt.close('all')\n"
    "_os.chdir({work!r})\n"
    "del _os, _plt\n"
    "get_ipython().execution_count = 1\n"
)
#: The garbage collector's thresholds in a worker's kernel (Python's default is
#: ``(700, 10, 10)``). A pack holds its tables in memory (object columns of millions of
#: cells) and makes thousands of short-lived chart objects: with the default, the chart
#: objects set off a full collection about twenty times a pack, each going through every
#: cell of the tables again (over a tenth of a pack's time). Full collections are left to
#: ``%reset`` in :data:`KERNEL_RESET`, between packs; the run's own process keeps them
#: rare too while it computes the pack tables (:func:`_rare_full_collections`).
GC_THRESHOLDS = (1000, 10, 1000)
#: Seconds a worker waits for its kernel to start or to run :data:`KERNEL_RESET`.
KERNEL_TIMEOUT = 60
#: The kernel of this worker process, reused by its packs (``km``, ``log``): see
#: :func:`build_pack`.
_KERNEL: dict[str, Any] = {}


def _warm_kernel(work: Path) -> None:
    """Start this worker's kernel in ``work`` and import the report's modules in it.

    The kernel's own messages go to ``kernel-<worker pid>.log`` in ``work``; the kernel
    stops with the worker (at its exit, or by itself when the worker is killed).
    """
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    log_path = work / f"kernel-{os.getpid()}.log"
    err = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    km = AsyncKernelManager(kernel_name="python3")
    try:
        run_sync(km.start_kernel)(cwd=str(work), stderr=err)
    finally:
        os.close(err)
    _KERNEL.update(km=km, log=log_path)
    multiprocessing.util.Finalize(km, _stop_kernel, exitpriority=10)
    try:
        run_sync(_run_in_kernel)(km, KERNEL_WARM_UP.format(thresholds=GC_THRESHOLDS))
    except Exception:
        _stop_kernel()
        raise


async def _run_in_kernel(km: Any, code: str) -> None:
    """Run ``code`` in the kernel of ``km``; raise if it fails."""
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=KERNEL_TIMEOUT)
        reply = await kc.execute_interactive(
            code, store_history=False, timeout=KERNEL_TIMEOUT, output_hook=lambda msg: None
        )
    finally:
        kc.stop_channels()
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"The worker's kernel failed: {reply['content'].get('ename')}")


def _stop_kernel() -> None:
    """Shut this worker's kernel down (nothing if it has none)."""
    from jupyter_core.utils import run_sync

    km = _KERNEL.pop("km", None)
    _KERNEL.pop("log", None)
    if km is not None:
        with contextlib.suppress(Exception):
            run_sync(km.shutdown_kernel)(now=True)


def _pack_kernel(work: Path) -> Any:
    """This worker's kernel, reset for a new pack in ``work``; None: papermill starts one."""
    from jupyter_core.utils import run_sync

    km = _KERNEL.get("km")
    if km is None:
        return None
    try:
        if not run_sync(km.is_alive)():
            raise RuntimeError("The worker's kernel has stopped.")
        run_sync(_run_in_kernel)(km, KERNEL_RESET.format(work=str(work)))
    except Exception:
        log.debug("Worker kernel not reusable; starting a new one", exc_info=True)
        _stop_kernel()
        return None
    return km


def _start_workers(jobs: int, packs: int, work: Path | None = None) -> cf.ProcessPoolExecutor:
    """The notebook workers, started now (each warms up with :func:`_warm_worker`).

    With ``work`` (the run's private folder), each worker also starts the kernel that its
    packs run in. The workers warm up one at a time (see :func:`_warm_worker`).
    """
    workers = max(1, min(jobs, packs))
    context = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_warm_worker,
        initargs=(None if work is None else str(work), context.Lock()),
    )
    for _ in range(workers):
        pool.submit(int)  # each submission with no idle worker starts one
    return pool


def build_pack(task: dict[str, Any]) -> dict[str, Any]:
    """Execute the notebook for one pack and convert it to HTML (run in a worker process).

    A worker started with the run's folder keeps one kernel for its packs (started and
    its imports done while the tables are computed): before each pack its namespace is
    emptied, as in a new kernel (:data:`KERNEL_RESET`); after a failed pack it is stopped
    and the next pack gets a new one. Otherwise papermill starts a kernel for the pack.

    Args:
        task: ``pack``, ``notebook``, ``work_dir``, ``out_html`` and ``parameters``.

    Returns:
        ``pack``, ``status`` (``"ok"`` or ``"failed"``), ``error``, ``file`` and
        ``timings`` (``execute``, ``convert`` seconds). Never raises.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    pack = task["pack"]
    work = Path(task["work_dir"])
    executed = work / f"{slug(pack)}.ipynb"
    if task.get("capture_stderr"):
        # The kernel inherits this worker's stderr: keep its chatter out of the terminal.
        log_file = work / f"{slug(pack)}.kernel.log"
        err_log = os.open(log_file, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        os.dup2(err_log, 2)
    result: dict[str, Any] = {"pack": pack, "status": "ok", "error": None, "timings": {}}
    t0 = time.perf_counter()
    km = _pack_kernel(work)
    kernel_log = _KERNEL.get("log")
    logged = kernel_log.stat().st_size if kernel_log and kernel_log.exists() else 0
    try:
        pm.execute_notebook(
            str(task["notebook"]),
            str(executed),
            parameters=task["parameters"],
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            cwd=str(work),
            **({} if km is None else {"km": km}),
        )
    except PapermillExecutionError as err:
        result.update(status="failed", error=f"{err.ename}: {_first_line(err.evalue)}")
    except Exception as err:
        result.update(status="failed", error=f"{type(err).__name__}: {_first_line(str(err))}")
    result["timings"]["execute"] = time.perf_counter() - t0
    if km is not None and result["status"] != "ok":
        _stop_kernel()  # the next pack gets a new kernel; this pack's messages are kept
        if kernel_log is not None and kernel_log.exists():
            with kernel_log.open("rb") as messages:
                messages.seek(logged)
                (work / f"{slug(pack)}.kernel.log").write_bytes(messages.read())
            make_private(work / f"{slug(pack)}.kernel.log")
    if executed.exists():
        make_private(executed)
    result["executed"] = str(executed)
    if result["status"] != "ok":
        return result
    t0 = time.perf_counter()
    try:
        page = notebook_to_html(
            executed, task["title"], task.get("footer", ""), bool(task.get("synthetic"))
        )
        if "http://" in page or "https://" in page:
            page = _strip_external(page)
        atomic_write_text(task["out_html"], page)
        result["file"] = Path(task["out_html"]).name
        result["bytes"] = len(page.encode("utf-8"))
    except Exception as err:
        result.update(status="failed", error=f"{type(err).__name__}: {_first_line(str(err))}")
    result["timings"]["convert"] = time.perf_counter() - t0
    return result


def _strip_external(page: str) -> str:
    """Remove any ``<script src=...>`` or ``<link href=...>`` that would reach another host."""
    page = re.sub(r"<script[^>]+src=\"https?://[^\"]*\"[^>]*>\s*</script>", "", page)
    return re.sub(r"<link[^>]+href=\"https?://[^\"]*\"[^>]*>", "", page)


def _first_line(text: str) -> str:
    return (str(text).strip().splitlines() or [""])[0][:500]


@dataclass
class RunResult:
    """What a run produced: the published folder, each pack's status, the exit code.

    A locality the extract has no patients in (status ``"no-data"``) is not a failure.

    Examples:
        >>> ok = {"pack": "East", "status": "ok"}
        >>> RunResult(Path("r"), [ok]).exit_code
        0
        >>> RunResult(Path("r"), [ok, {"pack": "West", "status": "failed"}]).exit_code
        4
    """

    folder: Path
    packs: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every pack of this run was built, 4 when some failed."""
        built_now = [p for p in self.packs if not p.get("carried")]
        failed = any(p["status"] not in ("ok", "no-data") for p in built_now)
        return EXIT_PACKS_FAILED if failed else 0


def _execute_all(
    packs: Sequence[str],
    tables: Path,
    work: Path,
    rd: dt.date,
    view: str,
    imd: str,
    jobs: int,
    progress: bool,
    notebook: Path,
    in_process: bool = False,
    info: dict[str, Any] | None = None,
    source: str | None = None,
    pool: cf.ProcessPoolExecutor | None = None,
) -> list[dict[str, Any]]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    (work / "html").mkdir(exist_ok=True)
    synthetic = bool((info or {}).get("synthetic") or (info or {}).get("demo"))
    stamp = f"{SYNTHETIC_LABEL}. " if synthetic else ""
    tasks = [
        {
            "pack": pack,
            "notebook": str(notebook),
            "work_dir": str(work),
            "out_html": str(work / "html" / pack_file_name(pack)),
            "title": f"{pack} locality pack, {fmt_date(rd)}"
            if pack != BSOL
            else f"BSOL pack, {fmt_date(rd)}",
            "footer": f"{stamp}bsol_analytics {__version__}. Reporting date {fmt_date(rd)}.",
            "synthetic": synthetic,
            "parameters": {
                "locality": pack,
                "reporting_date": rd.isoformat(),
                "tables_dir": str(tables.resolve()),
                "view": view,
                "imd": str(imd),
                "source": source,
            },
        }
        for pack in packs
    ]
    results: dict[str, dict[str, Any]] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, disable=not progress, transient=False, console=Console(stderr=True)
    ) as bar:
        job = bar.add_task("Building packs", total=len(tasks))
        if in_process:
            for task in tasks:
                results[task["pack"]] = build_pack(task)
                _log_result(results[task["pack"]])
                bar.advance(job)
        else:
            for task in tasks:
                task["capture_stderr"] = True
            if pool is None:
                pool = _start_workers(jobs, len(tasks), work)
            try:
                futures = {pool.submit(build_pack, t): t["pack"] for t in longest_first(tasks)}
                for fut in cf.as_completed(futures):
                    pack = futures[fut]
                    try:
                        results[pack] = fut.result()
                    except Exception as err:
                        results[pack] = {
                            "pack": pack,
                            "status": "failed",
                            "timings": {},
                            "error": f"{type(err).__name__}: {err}",
                        }
                    _log_result(results[pack])
                    bar.advance(job)
            except BaseException:
                _stop_workers(pool)
                raise
            pool.shutdown(wait=True)
    return [results[p] for p in packs]


def longest_first(tasks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The packs in the order to start them: the slowest (BSOL, every locality) first.

    Workers take packs in the order they are submitted; started last, the slowest pack
    would leave the other workers idle at the end of the run. Results are still reported
    in the packs' own order.

    Examples:
        >>> [t["pack"] for t in longest_first([{"pack": "East"}, {"pack": "BSOL"},
        ...                                    {"pack": "West"}])]
        ['BSOL', 'East', 'West']
    """
    return sorted(tasks, key=lambda task: task["pack"] != BSOL)


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """Stop the notebook workers now (on an interrupt: rather than wait for their packs)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=10)


def _log_result(result: dict[str, Any]) -> None:
    t = result["timings"]
    if result["status"] == "ok":
        log.info(
            "Pack %s built (execute %.1fs, convert %.1fs)",
            result["pack"],
            t.get("execute", 0),
            t.get("convert", 0),
        )
    else:
        log.warning("Pack %s failed: %s", result["pack"], result["error"])


def run_packs(
    data_dir: str | Path | None,
    out_root: str | Path = "reports",
    reporting_date: str | dt.date | None = None,
    localities: str | Sequence[str] | None = None,
    jobs: int = 2,
    view: str = "practice",
    imd: str = "2025",
    engine: str = "pandas",
    tables_dir: str | Path | None = None,
    progress: bool = True,
    notebook: str | Path = NOTEBOOK,
    before_publish: Callable[[Path], None] | None = None,
    source: str | None = None,
) -> RunResult:
    """Build the packs and publish ``<out_root>/<reporting_date>/`` atomically.

    The steps, in order: check the parameters, compute the pack tables once
    (:func:`bsol_analytics.packs.tables.compute_tables`), execute the notebook for every
    pack, stage the pages with the index and manifest, and publish them in one rename.

    Args:
        data_dir: an extract folder or a prepared folder (ignored with ``tables_dir``).
        out_root: the reports folder.
        reporting_date: ``YYYY-MM-DD``; default the last complete quarter in the data.
        localities: packs to build (default BSOL and every locality the extract has
            patients in). A named locality the extract has no patients in is reported as
            such (status ``"no-data"``), not as a failure.
        jobs: notebooks run in parallel (one kernel each).
        view: ``"practice"`` or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.
        engine: indicator engine.
        tables_dir: precomputed pack tables (skips preparation and computation).
        progress: show a progress bar.
        notebook: the report notebook.
        before_publish: called with the staging folder just before publication (tests use
            it to simulate an interruption).
        source: the data source printed in a real (not synthetic) extract's packs.

    Returns:
        The :class:`RunResult`; its ``exit_code`` is 4 when some packs failed.

    Raises:
        ParameterError: invalid parameters, or a reporting date the data cannot support
            (nothing is written).
    """
    packs = _check_run(data_dir, tables_dir, reporting_date, localities, jobs, view, imd, notebook)
    out_root = Path(out_root)
    created = not out_root.exists()
    out_root.mkdir(parents=True, exist_ok=True)  # an unwritable --out fails before the work
    started = dt.datetime.now(dt.UTC)
    # Patient-level work (prepared extract, pack tables, executed notebooks) stays in a
    # private folder outside the reports root; only HTML is ever staged beside the target.
    work = private_directory(prefix="bsol-packs-work-")
    timings: dict[str, float] = {}
    pool: cf.ProcessPoolExecutor | None = None

    def warm_up() -> None:
        # Protection runs on one core: the notebook workers warm up on the other meanwhile.
        nonlocal pool
        pool = _start_workers(jobs, len(packs), work)

    try:
        with _run_log(work):
            tables, inputs = _tables_step(
                data_dir, tables_dir, work, reporting_date, view, imd, engine, timings, warm_up
            )
            info = json.loads((tables / "pack_meta.json").read_text())
            rd = dt.date.fromisoformat(info["reporting_date"])
            covered = localities_covered(tables)
            info["localities_covered"] = covered
            packs, absent = _split_packs(packs, covered, localities is None, view)
            log.info("Packs run for %s: %s (view %s, IMD %s)", rd, ", ".join(packs), view, imd)
            target = out_root / rd.isoformat()
            sweep_stale(out_root, target, started.timestamp())
            t0 = time.perf_counter()
            results = _execute_all(packs, tables, work, rd, view, imd, jobs, progress, notebook,
                                   info=info, source=source, pool=pool)  # fmt: skip
            results += absent
            timings["notebooks_wall"] = time.perf_counter() - t0
            timings["execute"] = sum(r["timings"].get("execute", 0.0) for r in results)
            timings["convert"] = sum(r["timings"].get("convert", 0.0) for r in results)
            parameters = {
                "data_dir": str(data_dir) if data_dir else None,
                "tables_dir": str(tables_dir) if tables_dir else None,
                "localities": packs,
                "jobs": jobs,
                "view": view,
                "imd": str(imd),
                "engine": engine,
            }
            _publish(target, work, results, info, parameters, started, inputs, timings,
                     packs, before_publish)  # fmt: skip
        return RunResult(folder=target, packs=results, timings=timings)
    except BaseException:
        if created and not any(out_root.iterdir()):
            out_root.rmdir()  # a refused run leaves no trace
        raise
    finally:
        if pool is not None:
            _stop_workers(pool)
        shutil.rmtree(work, ignore_errors=True)


def no_data_note(pack: str, view: str = "practice") -> str:
    """The plain sentence for a locality the extract has no patients in.

    Examples:
        >>> no_data_note("East")
        'Not built: the extract has no patients registered with practices in East.'
    """
    where = "registered with practices in" if view == "practice" else "living in"
    return f"Not built: the extract has no patients {where} {pack}."


def _split_packs(
    packs: list[str], covered: list[str], by_default: bool, view: str
) -> tuple[list[str], list[dict[str, Any]]]:
    """The packs to build, and results for the localities the extract has no patients in."""
    build = [p for p in packs if p == BSOL or p in covered]
    missing = [] if by_default else [p for p in packs if p not in build]
    for pack in missing:
        log.warning("Pack %s: %s", pack, no_data_note(pack, view))
    absent = [
        {"pack": p, "status": "no-data", "error": no_data_note(p, view), "timings": {}}
        for p in missing
    ]
    return build, absent


def _check_run(
    data_dir: str | Path | None,
    tables_dir: str | Path | None,
    reporting_date: str | dt.date | None,
    localities: str | Sequence[str] | None,
    jobs: int,
    view: str,
    imd: str,
    notebook: str | Path,
) -> list[str]:
    """Step 1: the run's parameters, checked before anything is written; the packs."""
    packs = parse_localities(localities)
    check_view_imd(view, imd)
    if reporting_date is not None:
        parse_date(reporting_date)
    if tables_dir is not None and reporting_date is not None:
        validate_parameters(BSOL, reporting_date, view, imd, tables_dir=tables_dir)
    if jobs < 1:
        raise ParameterError(f"--jobs must be 1 or more, not {jobs}.")
    if tables_dir is None and data_dir is None:
        raise ParameterError("Give a data folder (an extract or a prepared folder).")
    if not Path(notebook).exists():
        raise BsolError(f"The report notebook {notebook} is missing: reinstall bsol_analytics.")
    return packs


@contextlib.contextmanager
def _run_log(work: Path) -> Iterator[logging.FileHandler]:
    """The run's log file in ``work`` (always INFO); the console keeps the user's level."""
    handler = logging.FileHandler(work / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root_log = logging.getLogger("bsol_analytics")
    old_level, old_propagate = root_log.level, root_log.propagate
    console = None
    if logging.getLogger().handlers:
        console = logging.StreamHandler()
        console.setLevel(root_log.getEffectiveLevel())
        console.setFormatter(handler.formatter)
        root_log.addHandler(console)
    root_log.addHandler(handler)
    root_log.setLevel(logging.INFO)
    root_log.propagate = False
    try:
        yield handler
    finally:
        root_log.removeHandler(handler)
        if console is not None:
            root_log.removeHandler(console)
        root_log.setLevel(old_level)
        root_log.propagate = old_propagate
        handler.close()


def _tables_step(
    data_dir: str | Path | None,
    tables_dir: str | Path | None,
    work: Path,
    reporting_date: str | dt.date | None,
    view: str,
    imd: str,
    engine: str,
    timings: dict[str, float],
    before_protect: Callable[[], None] | None = None,
) -> tuple[Path, dict[str, str]]:
    """Step 2: the pack tables (computed once, or given) and the input checksums."""
    if tables_dir is None:
        with _rare_full_collections():
            tables = compute_tables(data_dir, work / "tables", reporting_date, view, imd,
                                    engine, timings, before_protect=before_protect)  # fmt: skip
        inputs = file_checksums(Path(data_dir))  # type: ignore[arg-type]
    else:
        tables = Path(tables_dir)
        inputs = file_checksums(tables)
        timings["prepare"] = timings["compute"] = 0.0
    log.info(
        "Tables ready in %s (prepare %.1fs, compute %.1fs)",
        tables,
        timings["prepare"],
        timings["compute"],
    )
    return tables, inputs


@contextlib.contextmanager
def _rare_full_collections() -> Iterator[None]:
    """The garbage collector with :data:`GC_THRESHOLDS` in this process, then as it was.

    The pack tables are computed from large frames that a full collection goes through
    each time; they make few reference cycles to collect.
    """
    import gc

    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _publish(
    target: Path,
    work: Path,
    results: list[dict[str, Any]],
    info: dict[str, Any],
    parameters: dict[str, Any],
    started: dt.datetime,
    inputs: dict[str, str],
    timings: dict[str, float],
    packs: Sequence[str],
    before_publish: Callable[[Path], None] | None,
) -> None:
    """Steps 4 and 5: stage the pages, index, manifest and log; publish in one rename."""
    rd = dt.date.fromisoformat(info["reporting_date"])
    with atomic_directory(target, prefix=f"{STAGE_PREFIX}{os.getpid()}-") as stage:
        previous = previous_manifest(target)
        results += carry_over(previous, target, stage, packs)
        stage_results(results, previous, target, stage, work)
        finished = dt.datetime.now(dt.UTC)
        timings["total"] = (finished - started).total_seconds()
        info_out = {**info, "finished": finished.strftime("%Y-%m-%d %H:%M:%S UTC")}
        manifest = run_manifest(rd, parameters, started, finished, inputs, timings, results,
                                info.get("sdc_audit"))  # fmt: skip
        atomic_write_text(stage / "manifest.json", json.dumps(manifest, indent=2))
        atomic_write_text(stage / "index.html", render_index(results, info_out))
        log.info(
            "Run finished in %.1fs: %d built, %d failed",
            timings["total"],
            sum(r["status"] == "ok" for r in results),
            sum(r["status"] not in ("ok", "no-data") for r in results),
        )
        for handler in logging.getLogger("bsol_analytics").handlers:
            handler.flush()
        shutil.copy2(work / "run.log", stage / "run.log")
        make_readable(stage)
        if before_publish is not None:
            before_publish(stage)


__all__ = [
    "EXIT_PACKS_FAILED",
    "NOTEBOOK",
    "RunResult",
    "build_pack",
    "longest_first",
    "no_data_note",
    "notebook_to_html",
    "run_packs",
    "toc_html",
]
