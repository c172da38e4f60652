"""Writers of small benchmark files in their real formats, for conformance and fetch tests.

VLMEvalKit TSVs are written the way VLMEvalKit writes them (pandas, tab-separated, minimal quoting,
images as base64 PNG/JPEG text, rotated MMBench copies referring to the main row's image by index);
Hugging Face parquet files carry images as {"bytes", "path"} structs. Images are seeded noise, big
enough that their base64 looks like real image data rather than a file name.
"""

from __future__ import annotations

import base64
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


def write_tsv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """A VLMEvalKit-style TSV: one column per key (union over rows, first-seen order), blanks for gaps."""
    import pandas as pd

    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    frame = pd.DataFrame([{column: row.get(column, "") for column in columns} for row in rows], columns=columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, sep="\t", index=False)
    return path


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
