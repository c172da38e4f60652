"""Loaders: benchmark files in their real formats → `Sample`s.

Three formats cover the benchmarks this project runs: VLMEvalKit TSV (images as base64 in a column,
sometimes a list of them, sometimes a reference to another row's image), Hugging Face parquet (images
as {"bytes", "path"} structs), and JSONL with image paths relative to the file. A corrupt image makes
that item errored (it is reported, never scored as wrong); a missing file, a column the definition
names but the file lacks, or a TSV cut off mid-row stops the run before any model loads, with the
file, row and problem named.

Only an empty cell, or a real null in a parquet/JSON file, is missing: "None", "N/A", "NaN" and "null"
are texts a benchmark can use (MMMU's validation_Geography_15 has the option "None", and it is the
answer), so no reader here turns them into missing values.
"""

from __future__ import annotations

import ast
import base64
import binascii
import csv
import hashlib
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable

from PIL import Image, UnidentifiedImageError

from harness.bench.spec import LETTER_COLUMNS, BenchmarkError, BenchmarkSpec, load_object, mapped_columns
from harness.rundir import not_utf8
from harness.types import Sample, infer_answer_type

OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]{64,}={0,2}\s*$")  # a path has a '.' or is short
# VLMEvalKit stores a repeated image once; other rows hold that row's index (at most 64 characters).
IMAGE_REFERENCE_MAX_CHARS = 64


class DataError(BenchmarkError):
    """The benchmark's data file is missing or malformed."""


def _is_missing(value: Any) -> bool:
    """An empty cell or a real null; never a text such as "None" or "NaN"."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _decode_base64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataError(f"{where}: undecodable base64 ({exc}; {len(text)} characters starting {text[:16]!r})") from exc


def decode_image(value: Any, where: str, base_dir: Path | None = None, text_is_base64: bool = False) -> Image.Image:
    """bytes, base64 text, a {"bytes","path"} struct, or a file path → a loaded RGB PIL image.

    In a VLMEvalKit TSV (`text_is_base64`) an image cell is always base64, so text that does not
    decode is reported as such rather than looked up as a file.
    """
    if isinstance(value, dict):
        if value.get("bytes"):
            value = value["bytes"]
        elif value.get("path"):
            value = value["path"]
        else:
            raise DataError(f"{where}: image struct has neither bytes nor path")
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, str) and (text_is_base64 or _BASE64.match(value)):
        raw = _decode_base64(value, where)
    elif isinstance(value, str):
        path = Path(value)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{where}: cannot read image file {path}: {exc.strerror or exc}") from exc
    else:
        raise DataError(f"{where}: unsupported image value of type {type(value).__name__}")
    try:
        image = Image.open(io.BytesIO(raw))
        image.load()
        return image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{where}: cannot decode image: {exc}") from exc


def read_tsv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a VLMEvalKit TSV, every cell as the text in the file.

    VLMEvalKit writes its TSVs with pandas' default minimal quoting (a question with a tab, a newline
    or a quote is quoted), and every row has every field. A row with fewer fields, a quote left open
    at the end, or a last row without its line break is what a download or copy cut short leaves,
    so the file is refused with the row named rather than read with empty answers.
    """
    # Image cells are megabytes of base64; the csv module's default limit is 128 KiB per field.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    cut_off = "the file looks cut off (a truncated download or copy): fetch or copy it again"
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter="\t", quotechar='"', doublequote=True, strict=True)
            records = [(reader.line_num, record) for record in reader if record]
    except csv.Error as exc:
        hint = cut_off if "end of data" in str(exc) else "a quoted field must be closed, its quotes doubled"
        raise DataError(f"{path} line {reader.line_num}: cannot parse as TSV ({exc}); {hint}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(not_utf8(path, exc)) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    if not records:
        raise DataError(f"{path}: the file is empty (no header row)")
    header = records[0][1]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: the header names columns {repeated} more than once")
    rows = []
    for row_no, (line_no, record) in enumerate(records[1:], 1):
        if len(record) != len(header):
            missing = header[len(record):]
            detail = f"lacks columns {missing[:5]}{' ...' if len(missing) > 5 else ''}" if missing else "has extra fields"
            hint = cut_off if row_no == len(records) - 1 and missing else "every row must have one field per column"
            raise DataError(f"{path} data row {row_no} (line {line_no}): {len(record)} fields for {len(header)} "
                            f"columns; it {detail}; {hint}")
        rows.append(dict(zip(header, record)))
    if rows and _last_byte(path) not in (b"\n", b"\r"):
        raise DataError(f"{path} data row {len(rows)}: the last row does not end with a line break; {cut_off}")
    return header, rows


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1)


def _read_rows(spec: BenchmarkSpec, path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """(the file's columns, its rows) in the benchmark's source format."""
    fmt = spec.source.format
    if fmt == "tsv":
        return read_tsv(path)
    if fmt == "parquet":
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several error types; all mean the same to a user
            raise DataError(f"{path}: cannot read parquet: {exc}") from exc
        return [str(column) for column in frame.columns], frame.to_dict("records")
    if fmt == "jsonl":
        from harness.rundir import iter_json_objects

        rows = [row for _, row in iter_json_objects(path, DataError)]
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        return list(columns), rows
    raise DataError(f"benchmark {spec.name!r}: no row reader for format {fmt!r}")


def check_columns(spec: BenchmarkSpec, path: Path, file_columns: list[str]) -> None:
    """Every column the definition names must be in the file: a misspelt one would be silently empty."""
    present = set(file_columns)
    for key, name in mapped_columns(spec):
        if name not in present:
            listed = (", ".join(file_columns[:60]) + (" ..." if len(file_columns) > 60 else "")
                      or "none (the file has no rows)")
            raise DataError(f"{spec.path or spec.name}: {key} names column {name!r}, which {path} does not have; "
                            f"its columns are: {listed}")


def _passes(row: dict[str, Any], filters: dict[str, Any]) -> bool:
    for column, wanted in filters.items():
        value = row.get(column)
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if str(value) not in {str(a) for a in allowed}:
            return False
    return True


def _as_list(value: Any) -> list[Any]:
    """A cell that may hold one value, a list, a numpy array, or a stringified Python list."""
    if value is None:
        return []
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str) and value.startswith("[") and value.endswith("]"):
        try:
            parsed = ast.literal_eval(value)  # data files, not model output: literals only
        except (ValueError, SyntaxError):
            return [value]
        return list(parsed) if isinstance(parsed, (list, tuple)) else [value]
    return [value]


def row_to_sample(spec: BenchmarkSpec, row: dict[str, Any], where: str, base_dir: Path | None,
                  image_index: dict[str, str]) -> Sample:
    """One row → a Sample by the definition's column mapping (the file's columns are already checked)."""
    columns = spec.columns

    def column(field_name: str, default: str | None = None) -> Any:
        name = columns.get(field_name, default)
        return None if name is None else row.get(name)

    raw_id = column("id", "index")
    if _is_missing(raw_id):
        raise DataError(f"{where}: the id column {columns.get('id', 'index')!r} is empty")
    choices: dict[str, str] = {}
    if "choices" in columns:
        letters = [c for c in OPTION_LETTERS if c in row] if columns["choices"] == LETTER_COLUMNS else columns["choices"]
        for letter in letters:
            value = row.get(letter)
            if not _is_missing(value):
                choices[str(letter)] = str(value)
    elif "choices_list" in columns:
        for letter, text in zip(OPTION_LETTERS, _as_list(column("choices_list"))):
            choices[letter] = str(text)
    meta = {name: row.get(name) for name in columns.get("meta", [])}
    meta = {k: (v.item() if hasattr(v, "item") else v) for k, v in meta.items()}
    answer, question, subject = column("answer", "answer"), column("question", "question"), column("subject")
    answer_text = "" if _is_missing(answer) else str(answer)
    answer_type = spec.answer_type
    per_item_type = column("answer_type")
    if not _is_missing(per_item_type) and str(per_item_type) in ("mcq", "number", "math", "text"):
        answer_type = str(per_item_type)
    if answer_type == "auto":
        answer_type = infer_answer_type(answer_text, choices)
    sample = Sample(
        id=str(raw_id),
        question="" if _is_missing(question) else str(question),
        answer=answer_text,
        answer_type=answer_type,
        choices=choices,
        subject="" if _is_missing(subject) else str(subject),
        meta=meta,
    )
    try:
        for image_column in columns.get("images", []):
            sample.images.extend(_row_images(spec, row[image_column], f"{where} column {image_column!r}",
                                             base_dir, image_index))
    except DataError as exc:
        sample.error = str(exc)
        sample.images = []
    return sample


def _row_images(spec: BenchmarkSpec, cell: Any, where: str, base_dir: Path | None,
                image_index: dict[str, str]) -> list[Image.Image]:
    in_tsv = spec.source.format == "tsv"
    if in_tsv and isinstance(cell, str) and 0 < len(cell.strip()) <= IMAGE_REFERENCE_MAX_CHARS:
        reference = cell.strip()
        if reference not in image_index:
            raise DataError(f"{where}: {reference!r} refers to the image of row index {reference!r}, "
                            "which this file does not have")
        cell = image_index[reference]
    images = []
    for k, value in enumerate(_as_list(cell)):
        if not _is_missing(value):
            images.append(decode_image(value, f"{where} image {k}", base_dir, text_is_base64=in_tsv))
    return images


def load_samples(spec: BenchmarkSpec, data_dir: str | os.PathLike | None = None,
                 limit: int | None = None) -> list[Sample]:
    """All (or the first `limit`) samples of a benchmark, in file order."""
    if spec.source.format == "builtin":
        generator = load_object(spec.source.generator or "", f"benchmark {spec.name!r} generator")
        samples = list(generator())
        return samples[:limit] if limit else samples
    path = spec.data_path(data_dir)
    assert path is not None
    if not path.exists():
        raise DataError(missing_data_message(spec, path))
    file_columns, all_rows = _read_rows(spec, path)
    check_columns(spec, path, file_columns)
    # Rows are named by their place in the file, whatever the filter keeps.
    rows = [(row_no, row) for row_no, row in enumerate(all_rows, 1) if _passes(row, spec.source.filter)]
    if limit:
        rows = rows[:limit]
    image_index = _image_index(spec, all_rows, file_columns) if spec.source.format == "tsv" else {}
    prepare = spec.prepare_fn()
    samples: list[Sample] = []
    seen: set[str] = set()
    for row_no, row in rows:
        where = f"{path} data row {row_no}"
        sample = row_to_sample(spec, row, where, path.parent, image_index)
        if prepare is not None:
            sample = prepare(sample, row)
        if sample.id in seen:
            raise DataError(f"{where}: duplicate item id {sample.id!r}")
        seen.add(sample.id)
        samples.append(sample)
    return samples


def _image_index(spec: BenchmarkSpec, rows: list[dict[str, Any]], file_columns: list[str]) -> dict[str, str]:
    """VLMEvalKit `index` → image cell, for rows that hold another row's index instead (all rows, before filters)."""
    image_columns = spec.columns.get("images", [])
    if not image_columns:
        return {}
    index_column = "index" if "index" in file_columns else spec.columns.get("id", "index")
    index: dict[str, str] = {}
    for row in rows:
        value = row.get(image_columns[0])
        if isinstance(value, str) and len(value.strip()) > IMAGE_REFERENCE_MAX_CHARS:
            index[str(row.get(index_column))] = value
    return index


def missing_data_message(spec: BenchmarkSpec, path: Path) -> str:
    lines = [f"benchmark {spec.name!r}: data file not found: {path}"]
    if spec.source.url:
        lines.append(f"  fetch it with: harness data fetch {spec.name} --data-dir {path.parent}")
        lines.append(f"  or download {spec.source.url} and place it at {path}")
    elif spec.source.hf_dataset:
        lines.append(f"  export {spec.source.hf_dataset} to {spec.source.format} and place it at {path}")
    lines.append("  (set the data directory with --data-dir or HARNESS_DATA_DIR)")
    return "\n".join(lines)


def fingerprint_samples(samples: Iterable[Sample]) -> str:
    """A content hash of the items themselves (ids, questions, answers, choices, image bytes)."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(json.dumps([sample.id, sample.question, sample.answer, sample.choices,
                                  sample.answer_type], sort_keys=True).encode())
        for image in sample.images:
            digest.update(image.tobytes())
    return digest.hexdigest()
