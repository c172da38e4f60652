"""Writers of small benchmark files in their real formats, for conformance and fetch tests.

VLMEvalKit TSVs are written the way VLMEvalKit writes them (pandas, tab-separated, minimal quoting or
its `dump`'s quote-everything, images as base64 PNG text, several images as a stringified Python list,
a repeated image as the index of the row that holds it); Hugging Face parquet files carry images as
{"bytes", "path"} structs. Images are seeded noise, big enough that their base64 looks like real
image data rather than a file name.
"""

from __future__ import annotations

import base64
import csv
import io
import random
import zlib
from pathlib import Path
from typing import Any

from PIL import Image


def png_bytes(seed: int, size: int = 24) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (size, size))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(size * size)])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_base64(seed: int, size: int = 24) -> str:
    return base64.b64encode(png_bytes(seed, size)).decode("ascii")


def write_tsv(path: Path, rows: list[dict[str, Any]], quoting: int = csv.QUOTE_MINIMAL) -> Path:
    """A VLMEvalKit-style TSV: one column per key (union over rows, first-seen order), blanks for gaps."""
    import pandas as pd

    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    frame = pd.DataFrame([{column: row.get(column, "") for column in columns} for row in rows], columns=columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index=False, quoting=quoting)
    return path


def image_list(*seeds: int) -> str:
    """Several images in one cell, as VLMEvalKit stores them: a stringified Python list of base64 strings."""
    return str([png_base64(seed) for seed in seeds])


def decoded(seed: int) -> bytes:
    """The pixels the loader should produce for `png_base64(seed)`."""
    return Image.open(io.BytesIO(png_bytes(seed))).convert("RGB").tobytes()


def mmmu_row(item_id: str, index: int, question: str, options: list[str], answer: str, *,
             image: str | None = None, question_type: str = "multiple-choice", **extra: Any) -> dict[str, Any]:
    """One row of VLMEvalKit's MMMU_DEV_VAL.tsv: `index`, MMMU's own `id`, options in letter columns."""
    row: dict[str, Any] = {"index": index, "question": question}
    row.update({letter: text for letter, text in zip("ABCDEFGHI", options)})
    row.update({"answer": answer, "category": item_id.split("_")[1], "image": image or png_base64(index),
                "split": item_id.split("_")[0], "id": item_id, "question_type": question_type})
    row.update(extra)
    return row


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A Hugging Face-style parquet file; image values should be {"bytes": ..., "path": ...} dicts."""
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def image_struct(seed: int) -> dict[str, Any]:
    return {"bytes": png_bytes(seed), "path": f"{seed}.png"}


def mcq_row(index: int | str, question: str, options: list[str], answer: str, **extra: Any) -> dict[str, Any]:
    """One VLMEvalKit multiple-choice row: options in letter columns A, B, ...; image as base64."""
    row: dict[str, Any] = {"index": index, "question": question}
    row.update({letter: text for letter, text in zip("ABCDEFGHIJ", options)})
    row["answer"] = answer
    row["image"] = png_base64(zlib.crc32(str(index).encode()))
    row.update(extra)
    return row
