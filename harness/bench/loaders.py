"""Loaders: benchmark files in their real formats → `Sample`s.

Three formats cover the benchmarks this project runs: VLMEvalKit TSV (images as base64 in a column,
sometimes a list of them, sometimes a reference to another row's image), Hugging Face parquet (images
as {"bytes", "path"} structs), and JSONL with image paths relative to the file. A corrupt image makes
that item errored (it is reported, never scored as wrong); a missing file or column stops the run
before any model loads, with the file and the problem named.
"""

from __future__ import annotations

import ast
import base64
import binascii
import hashlib
import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable

from PIL import Image, UnidentifiedImageError

from harness.bench.spec import BenchmarkError, BenchmarkSpec, load_object
from harness.types import Sample, infer_answer_type

OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BASE64 = re.compile(r"^[A-Za-z0-9+/\s]{64,}={0,2}\s*$")  # a path has a '.' or is short


class DataError(BenchmarkError):
    """The benchmark's data file is missing or malformed."""


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in ("", "nan", "NaN", "None")


def decode_image(value: Any, where: str, base_dir: Path | None = None) -> Image.Image:
    """bytes, base64 text, a {"bytes","path"} struct, or a file path → a loaded RGB PIL image."""
    try:
        if isinstance(value, dict):
            if value.get("bytes"):
                value = value["bytes"]
            elif value.get("path"):
                value = value["path"]
            else:
                raise DataError(f"{where}: image struct has neither bytes nor path")
        if isinstance(value, (bytes, bytearray)):
            raw = bytes(value)
        elif isinstance(value, str) and _BASE64.match(value):
            raw = base64.b64decode(value, validate=False)
        elif isinstance(value, str):
            path = Path(value)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            raw = path.read_bytes()
        else:
            raise DataError(f"{where}: unsupported image value of type {type(value).__name__}")
        image = Image.open(io.BytesIO(raw))
        image.load()
        return image.convert("RGB")
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{where}: cannot decode image: {exc}") from exc


def _read_rows(spec: BenchmarkSpec, path: Path) -> list[dict[str, Any]]:
    fmt = spec.source.format
    if fmt == "tsv":
        import pandas as pd

        try:
            # VLMEvalKit writes its TSVs with pandas' default (minimal) quoting: questions that
            # contain newlines or quotes are quoted, so they must be read back the same way.
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        except Exception as exc:  # pandas raises several parser errors; all mean the same to a user
            raise DataError(f"{path}: cannot parse as TSV: {exc}") from exc
        return frame.to_dict("records")
    if fmt == "parquet":
        import pandas as pd

        try:
            frame = pd.read_parquet(path)
        except Exception as exc:
            raise DataError(f"{path}: cannot read parquet: {exc}") from exc
        return frame.to_dict("records")
    if fmt == "jsonl":
        from harness.rundir import iter_json_objects

        return [row for _, row in iter_json_objects(path, DataError)]
    raise DataError(f"benchmark {spec.name!r}: no row reader for format {fmt!r}")


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
                  image_index: dict[str, Any]) -> Sample:
    columns = spec.columns

    def column(field_name: str, default: str | None = None, required: bool = False) -> Any:
        name = columns.get(field_name, default)
        if name is None:
            return None
        if name not in row:
            if required:
                raise DataError(f"{where}: column {name!r} (for {field_name}) is missing; row has {sorted(row)[:20]}")
            return None
        return row[name]

    raw_id = column("id", "index", required=True)
    item_id = str(raw_id)
    question = column("question", "question", required=True)
    answer = column("answer", "answer", required=True)
    choices: dict[str, str] = {}
    if "choices" in columns:
        for letter in columns["choices"]:
            value = row.get(letter)
            if not _is_missing(value):
                choices[str(letter)] = str(value)
    elif "choices_list" in columns:
        for letter, text in zip(OPTION_LETTERS, _as_list(column("choices_list"))):
            choices[letter] = str(text)
    meta = {name: row.get(name) for name in columns.get("meta", []) if name in row}
    meta = {k: (v.item() if hasattr(v, "item") else v) for k, v in meta.items()}
    subject = column("subject")
    answer_text = "" if _is_missing(answer) else str(answer)
    answer_type = spec.answer_type
    per_item_type = column("answer_type")
    if not _is_missing(per_item_type) and str(per_item_type) in ("mcq", "number", "math", "text"):
        answer_type = str(per_item_type)
    if answer_type == "auto":
        answer_type = infer_answer_type(answer_text, choices)
    sample = Sample(
        id=item_id,
        question="" if _is_missing(question) else str(question),
        answer=answer_text,
        answer_type=answer_type,
        choices=choices,
        subject="" if _is_missing(subject) else str(subject),
        meta=meta,
    )
    for image_column in columns.get("images", []):
        if image_column not in row:
            raise DataError(f"{where}: image column {image_column!r} is missing")
        for k, value in enumerate(_as_list(row[image_column])):
            if _is_missing(value):
                continue
            # VLMEvalKit stores a repeated image once and refers to it by the row's index.
            if isinstance(value, str) and len(value) < 64 and value in image_index:
                value = image_index[value]
            try:
                sample.images.append(decode_image(value, f"{where} column {image_column!r} image {k}", base_dir))
            except DataError as exc:
                sample.error = str(exc)
                sample.images = []
                break
    return sample


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
    all_rows = _read_rows(spec, path)
    rows = [row for row in all_rows if _passes(row, spec.source.filter)]
    if limit:
        rows = rows[:limit]
    image_index = _image_index(spec, all_rows) if spec.source.format == "tsv" else {}
    prepare = spec.prepare_fn()
    samples: list[Sample] = []
    seen: set[str] = set()
    for row_no, row in enumerate(rows, 1):
        where = f"{path} row {row_no}"
        sample = row_to_sample(spec, row, where, path.parent, image_index)
        if prepare is not None:
            sample = prepare(sample, row)
        if sample.id in seen:
            raise DataError(f"{where}: duplicate item id {sample.id!r}")
        seen.add(sample.id)
        samples.append(sample)
    return samples


def _image_index(spec: BenchmarkSpec, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """index → base64 image for TSVs whose rows refer to other rows' images (all rows, before filters)."""
    id_column = spec.columns.get("id", "index")
    image_columns = spec.columns.get("images", [])
    if not image_columns:
        return {}
    index: dict[str, Any] = {}
    for row in rows:
        value = row.get(image_columns[0])
        if isinstance(value, str) and len(value) > 256:
            index[str(row.get(id_column))] = value
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


def fingerprint_file(path: Path) -> str:
    """sha256 of a data file (streamed)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint_samples(samples: Iterable[Sample]) -> str:
    """A content hash of the items themselves (ids, questions, answers, choices, image bytes)."""
    digest = hashlib.sha256()
    for sample in samples:
        digest.update(json.dumps([sample.id, sample.question, sample.answer, sample.choices,
                                  sample.answer_type], sort_keys=True).encode())
        for image in sample.images:
            digest.update(image.tobytes())
    return digest.hexdigest()
