"""Reading extract files: CSV or Parquet, with file-level contract checks.

CSV is read with ``pyarrow.csv`` (multi-threaded) with every column as a string; typing is
done afterwards, vectorised, so one bad value never aborts the read. Problems with the file
itself (missing, empty, wrong delimiter, not UTF-8, missing columns) refuse the extract with
an :class:`~bsol_analytics.errors.ExtractError`.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bsol_analytics.cleaning.quality import QualityLog
from bsol_analytics.contract import MALFORMED_SHARE, TableSpec
from bsol_analytics.errors import ExtractError

__all__ = ["NULL_VALUES", "find_table_file", "read_table_file", "table_files"]

#: Cell values read as blank.
NULL_VALUES = ["", "NULL", "null", "NA", "N/A"]

#: Text columns are read dictionary-encoded (pandas categoricals): tens of millions of
#: events repeat a few thousand dates, codes and values, so each distinct value is parsed once.
_DICT = pa.dictionary(pa.int32(), pa.large_string())

_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def find_table_file(folder: Path, table: str) -> Path | None:
    r"""The file holding ``table`` in ``folder``, or ``None``.

    ``<table>.csv``, ``<table>.parquet``, or a folder ``<table>.parquet/`` of Parquet parts
    (read in file-name order, as ``bsol synth`` writes large tables).

    Raises:
        ExtractError: when both a CSV and a Parquet version are present.

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = (d / "patients.csv").write_text("patient_id\n")
        >>> find_table_file(d, "patients").name, find_table_file(d, "screening")
        ('patients.csv', None)
    """
    csv_file = folder / f"{table}.csv"
    parquet = folder / f"{table}.parquet"
    found = [p for p in (csv_file, parquet) if p.is_file() or (p == parquet and p.is_dir())]
    if len(found) == 2:
        raise ExtractError(
            table,
            None,
            f"both {table}.csv and {table}.parquet are in the extract folder",
            hint="Keep one of them.",
        )
    return found[0] if found else None


def table_files(path: Path) -> list[Path]:
    """The data files of a table: the file itself, or the parts of a Parquet folder.

    Examples:
        >>> table_files(Path("patients.csv"))
        [PosixPath('patients.csv')]
    """
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".parquet")
    return [path]


def _utf8_error_offset(path: Path) -> int | None:
    """Byte offset of the first byte that is not valid UTF-8, or ``None``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 22):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as err:
                return offset + err.start - len(decoder.getstate()[0])
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset - len(decoder.getstate()[0])
    return None


def _row_of_offset(path: Path, offset: int) -> int:
    """1-based data row (header excluded) containing byte ``offset``."""
    newlines = 0
    remaining = offset
    with path.open("rb") as fh:
        while remaining > 0 and (block := fh.read(min(1 << 22, remaining))):
            newlines += block.count(b"\n")
            remaining -= len(block)
    return max(newlines, 1)


def _not_utf8(path: Path, table: str, header: list[str] | None, message: str) -> ExtractError:
    offset = _utf8_error_offset(path)
    column = None
    if header and "column #" in message:
        try:
            column = header[int(message.split("column #")[1].split(":")[0])]
        except (ValueError, IndexError):
            column = None
    if offset is None:
        return ExtractError(table, column, "the file contains text that is not valid UTF-8")
    row = _row_of_offset(path, offset)
    return ExtractError(
        table,
        column,
        f"the file is not UTF-8: the byte at offset {offset:,} (data row {row:,}) is not "
        "valid UTF-8 text",
        rows=[row],
        hint="Export it again as UTF-8 (in Excel: 'CSV UTF-8'); other encodings such as "
        "Windows-1252 are not accepted.",
    )


def _read_header(path: Path, table: str) -> list[str]:
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    if not head.strip():
        raise ExtractError(
            table,
            None,
            "the file is empty" if not head else "the file has no header row",
            hint="Export the table again with a header row and its data.",
        )
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ExtractError(
            table,
            None,
            f"the file is not UTF-8: the byte at offset {err.start:,} of the header row is not "
            "valid UTF-8 text",
            hint="Export it again as UTF-8 (in Excel: 'CSV UTF-8').",
        ) from None
    header = next(csv.reader(io.StringIO(text)))
    if len(header) == 1:
        for delim, name in _DELIMITERS.items():
            if delim in text:
                raise ExtractError(
                    table,
                    None,
                    f"the file uses {name} ('{delim}') to separate columns, but the contract "
                    "requires commas",
                    hint="Save it as comma-separated UTF-8 CSV.",
                )
    return [h.strip().lower() for h in header]


def _check_columns(spec: TableSpec, header: list[str], log: QualityLog) -> None:
    missing = [c for c in spec.required_column_names if c not in header]
    if missing:
        raise ExtractError(
            spec.name,
            missing[0],
            f"the required column is missing (the file has: {', '.join(header)})",
            hint="Rename or add the column; see docs/data-contract.md.",
        )
    extra = [c for c in header if c not in spec.column_names]
    if extra:
        log.notes.append(f"{spec.name}: extra columns ignored: {', '.join(extra)}")


def _read_csv(path: Path, spec: TableSpec, log: QualityLog) -> pd.DataFrame:
    if path.stat().st_size == 0:
        raise ExtractError(
            spec.name, None, "the file is empty (0 bytes)", hint="Export the table again."
        )
    header = _read_header(path, spec.name)
    _check_columns(spec, header, log)
    bad_rows = 0

    def on_invalid(row: pacsv.InvalidRow) -> str:
        nonlocal bad_rows
        bad_rows += 1
        return "skip"

    wanted = [c for c in spec.column_names if c in header]
    types = dict.fromkeys(header, _DICT)
    if spec.unique:
        types[spec.unique] = pa.large_string()  # unique keys gain nothing from a dictionary
    try:
        tbl = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=header, skip_rows=1, block_size=1 << 24, use_threads=True
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=wanted,
                null_values=NULL_VALUES,
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as err:
        msg = str(err)
        if "UTF8" in msg or "UTF-8" in msg:
            raise _not_utf8(path, spec.name, header, msg) from None
        raise ExtractError(
            spec.name,
            None,
            f"the file could not be read as CSV ({msg.splitlines()[0]})",
            hint="Check that it is comma-separated with a single header row.",
        ) from None
    n = tbl.num_rows + bad_rows
    if n == 0:
        raise ExtractError(
            spec.name,
            None,
            "the file has a header row but no data rows",
            hint="Export the table again with its data.",
        )
    log.rows_read[spec.name] = n
    if bad_rows:
        if bad_rows > MALFORMED_SHARE * n:
            raise ExtractError(
                spec.name,
                None,
                f"{bad_rows:,} of {n:,} rows do not have {len(header)} fields, more than the "
                f"{MALFORMED_SHARE:.0%} the contract allows",
                hint="Check the delimiter and the quoting of text that contains commas.",
            )
        log.count(spec.name, None, "malformed_row", bad_rows, "dropped")
    return tbl.to_pandas(split_blocks=True, self_destruct=True)


def _read_parquet_part(path: Path, spec: TableSpec) -> pq.ParquetFile:
    if path.stat().st_size == 0:
        raise ExtractError(
            spec.name, None, f"the file {path.name} is empty (0 bytes)", hint="Export it again."
        )
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise ExtractError(
            spec.name,
            None,
            f"the file {path.name} could not be read as Parquet ({str(err).splitlines()[0]})",
            hint="Export the table again.",
        ) from None


def _read_parquet(path: Path, spec: TableSpec, log: QualityLog) -> pd.DataFrame:
    parts = table_files(path)
    if not parts:
        raise ExtractError(
            spec.name,
            None,
            f"the folder {path.name} holds no .parquet files",
            hint="Write the table as one Parquet file or a folder of Parquet parts.",
        )
    pieces = []
    for part in parts:
        pf = _read_parquet_part(part, spec)
        names = {n.strip().lower(): n for n in pf.schema_arrow.names}
        _check_columns(spec, list(names), log if not pieces else QualityLog())
        present = [c for c in spec.column_names if c in names]
        if pieces and present != pieces[0].column_names:
            raise ExtractError(
                spec.name,
                None,
                "the Parquet parts do not all have the same columns",
                hint="Write every part with the same schema.",
            )
        piece = pf.read(columns=[names[c] for c in present])
        pieces.append(piece.rename_columns(present))
    try:
        tbl = pa.concat_tables(pieces, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise ExtractError(
            spec.name,
            None,
            f"the Parquet parts have different column types ({str(err).splitlines()[0]})",
            hint="Write every part with the same schema.",
        ) from None
    if tbl.num_rows == 0:
        raise ExtractError(
            spec.name,
            None,
            "the file has no data rows",
            hint="Export the table again with its data.",
        )
    log.rows_read[spec.name] = tbl.num_rows
    cols = {}
    for col in spec.columns:
        if col.name not in tbl.column_names:
            continue  # an optional column the file does not have
        arr = tbl.column(col.name)
        t = arr.type
        keep = (col.kind == "date" and (pa.types.is_date(t) or pa.types.is_timestamp(t))) or (
            col.kind == "float" and (pa.types.is_floating(t) or pa.types.is_integer(t))
        )
        if not keep:
            if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
                try:
                    arr = arr.cast(pa.large_string())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    raise ExtractError(
                        spec.name,
                        col.name,
                        f"the column has Parquet type {t}, which cannot be read as {col.kind} text",
                        hint="Store it as a string column.",
                    ) from None
            if col.name != spec.unique:
                arr = pc.dictionary_encode(arr)
        cols[col.name] = arr
    out = pa.table(cols).to_pandas(split_blocks=True, self_destruct=True, date_as_object=False)
    return out


def read_table_file(path: Path, spec: TableSpec, log: QualityLog) -> pd.DataFrame:
    r"""Read one extract table with file-level checks; values stay untyped text.

    Columns are the contract's, in contract order; extra columns are ignored (noted in the log)
    and optional columns (version 2 additions) the file lacks are absent. Text columns are
    pandas categoricals (dictionary-encoded on read), except the table's unique key. The
    index holds 0-based data-row numbers, used in error messages.

    Args:
        path: the ``.csv`` or ``.parquet`` file.
        spec: the table's contract.
        log: receives rows read, skipped malformed rows and notes.

    Returns:
        A new DataFrame.

    Raises:
        ExtractError: empty file, header only, wrong delimiter, not UTF-8, missing column,
            more than 1% malformed rows.

    Examples:
        >>> import tempfile
        >>> from bsol_analytics.contract import table_spec
        >>> p = Path(tempfile.mkdtemp()) / "admissions.csv"
        >>> _ = p.write_text("patient_id;admission_date;admission_method\n1;2024-01-01;x\n")
        >>> read_table_file(p, table_spec("admissions"), QualityLog())
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ExtractError: Table 'admissions': the file uses semicolons (';')...
    """
    if path.suffix == ".parquet":
        return _read_parquet(path, spec, log)
    return _read_csv(path, spec, log)
