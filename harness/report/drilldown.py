"""The per-sample drill-down data, packed so a 10,000 x 5 run still fits one small, fast HTML file.

The page gets three payloads: a compact index (one row per item and run: verdict marks, subject, a
question snippet) that filters and pagination work on; the long texts, gzip-compressed in chunks and
decompressed by the browser only when a row is expanded; and thumbnails re-encoded small. When a run
is large, each response is excerpted (head and tail kept) to a per-sample share of a fixed text
budget, and the page says so: the full text stays in generations.jsonl.
"""

from __future__ import annotations

import base64
import gzip
import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from harness.rundir import json_text
from harness.rundir import Run
from harness.metrics.figures import item_ids, subject_of
from harness.modes import split_thinking, think_opened

CHUNK_ROWS = 200
TEXT_BUDGET_CHARS = 24_000_000  # raw characters across all responses, before compression
MAX_CHARS_PER_SAMPLE = 40_000
MIN_CHARS_PER_SAMPLE = 300
THUMBNAIL_SIDE = 80
THUMBNAIL_QUALITY = 50
PARALLEL_THUMBNAILS = 1_000  # below this many, a process pool costs more than it saves
THUMBNAIL_CHUNK = 250  # thumbnails per task: about 0.2 s of work
SNIPPET_CHARS = 90
MARKS = {True: "1", False: "0", None: "?"}


@dataclass
class DrillDown:
    """What the template embeds: the index, the compressed chunks, the thumbnails, and the excerpt limit."""

    index: dict[str, Any]
    chunks: list[str]  # base64 of gzip(JSON list of row details)
    thumbnails: list[str]  # data: URLs
    chars_per_sample: int
    excerpted: int = 0  # how many texts were cut to fit
    notes: list[str] = field(default_factory=list)


def excerpt(text: str, limit: int) -> tuple[str, bool]:
    """Keep the head and the tail (where answers live) of a long text, marking the cut."""
    if len(text) <= limit:
        return text, False
    head = limit * 2 // 5
    tail = limit - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n[… {omitted:,} characters omitted here; the full text is in generations.jsonl …]\n{text[-tail:]}", True


def small_thumbnail(encoded: str) -> str | None:
    """Re-encode a base64 JPEG thumbnail (or data: URL) as a small WebP data URL; None if undecodable."""
    if encoded.startswith("data:"):
        encoded = encoded.partition(",")[2]
    try:
        image = Image.open(io.BytesIO(base64.b64decode(encoded, validate=False)))
        image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))  # JPEG decodes at reduced scale: much faster
        image = image.convert("RGB")
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), resample=Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, format="WEBP", quality=THUMBNAIL_QUALITY, method=0)
    except Exception:  # a broken thumbnail must not break the report; the row shows none
        return None
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class _Names(list):
    """A list of names that hands out stable indices in constant time (the index stores integers)."""

    def __init__(self) -> None:
        super().__init__()
        self._positions: dict[str, int] = {}

    def index_of(self, name: str) -> int:
        if name not in self._positions:
            self._positions[name] = len(self)
            self.append(name)
        return self._positions[name]


def _small_thumbnails(originals: list[str]) -> list[str | None]:
    return [small_thumbnail(original) for original in originals]


class ThumbnailJob:
    """Re-encodes thumbnails in worker processes while the caller goes on reading and tabulating.

    For a large run this is the slowest single step, and it needs nothing but items.jsonl, so it
    starts first and overlaps with everything else. The work goes out in chunks; when the caller is
    done with the rest and asks for the `result()`, it takes back the chunks no worker has started,
    from the end, and encodes them itself while the workers finish theirs from the front.
    """

    def __init__(self, originals: list[str]) -> None:
        self.originals = list(dict.fromkeys(originals))
        self._pool: ProcessPoolExecutor | None = None
        self._chunks: list[list[str]] = []
        self._futures: list[Any] = []
        if len(self.originals) >= PARALLEL_THUMBNAILS:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            workers = max(1, cores - 1)  # one core stays with the caller
            self._pool = ProcessPoolExecutor(max_workers=workers)
            self._chunks = [self.originals[i:i + THUMBNAIL_CHUNK] for i in range(0, len(self.originals), THUMBNAIL_CHUNK)]
            self._futures = [self._pool.submit(_small_thumbnails, chunk) for chunk in self._chunks]

    def result(self) -> tuple[dict[str, int], list[str]]:
        """(original → index into the data-URL list, or -1 if undecodable; the data URLs)."""
        if self._futures:
            done_here: dict[int, list[str | None]] = {}
            for index in reversed(range(len(self._futures))):
                if not self._futures[index].cancel():
                    break  # this chunk, and every one before it, is with a worker or done
                done_here[index] = _small_thumbnails(self._chunks[index])
            smalls = [s for index, future in enumerate(self._futures)
                      for s in (done_here[index] if index in done_here else future.result())]
            self.close()
        else:
            smalls = _small_thumbnails(self.originals)
        index_of, urls = {}, []
        for original, small in zip(self.originals, smalls):
            index_of[original] = -1 if small is None else len(urls)
            if small is not None:
                urls.append(small)
        return index_of, urls

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "ThumbnailJob":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _majority(marks: str) -> bool | None:
    decided = [m for m in marks if m in "01"]
    if not decided:
        return None
    return decided.count("1") * 2 >= len(decided)


def build_drilldown(
    runs: list[Run], text_budget_chars: int = TEXT_BUDGET_CHARS, thumbnail_job: ThumbnailJob | None = None
) -> DrillDown:
    benchmarks, subjects, methods = _Names(), _Names(), _Names()
    rows: list[list[Any]] = []
    details: list[dict[str, Any]] = []
    n_texts = sum(len(run.generations) or len(run.scores) for run in runs)
    chars_per_sample = max(MIN_CHARS_PER_SAMPLE, min(MAX_CHARS_PER_SAMPLE, text_budget_chars // max(n_texts, 1)))
    excerpted = 0
    reference: dict[tuple[str, str], bool | None] = {}

    for run_index, run in enumerate(runs):
        for benchmark in run.benchmark_names():
            bench_index = benchmarks.index_of(benchmark)
            for item_id in item_ids(run, benchmark):
                item = run.items.get((benchmark, item_id))
                subject = subject_of(run, benchmark, item_id)
                marks, samples = "", []
                for sample_index in range(run.samples):
                    score = run.scores.get((benchmark, item_id, sample_index))
                    generation = run.generations.get((benchmark, item_id, sample_index))
                    verdict = score.verdict if score else None
                    errored = (verdict is not None and verdict.method == "error") or (
                        generation is not None and generation.error is not None)
                    marks += "E" if errored else MARKS[verdict.correct] if verdict else "-"
                    split = split_thinking(generation.text, think_opened(run.mode)) if generation else None
                    thinking, answer = (split.reasoning, split.answer.strip()) if split else ("", "")
                    thinking, cut_thinking = excerpt(thinking, chars_per_sample * 3 // 4)
                    answer, cut_answer = excerpt(answer, max(chars_per_sample // 4, 200))
                    excerpted += cut_thinking + cut_answer
                    samples.append([
                        thinking, answer,
                        verdict.extracted if verdict else None,
                        methods.index_of(verdict.method) if verdict else -1,
                        verdict.judge_rationale if verdict else None,
                        generation.finish_reason if generation else None,
                        generation.think_tokens if generation else None,
                        generation.answer_tokens if generation else None,
                        bool(generation.forced) if generation else False,
                        generation.error if generation else None,
                    ])
                question = item.question if item else ""
                majority = _majority(marks)
                key = (benchmark, item_id)
                if run_index == 0 or key not in reference:
                    reference.setdefault(key, majority)
                rows.append([run_index, bench_index, item_id, subjects.index_of(subject),
                             question[:SNIPPET_CHARS], marks, majority, item.thumbnails if item else []])
                question, _ = excerpt(question, max(chars_per_sample, 2000))
                details.append({
                    "question": question,
                    "choices": item.choices if item else {},
                    "answer": item.answer if item else "",
                    "samples": samples,
                })
    flipped_keys = set()
    if len(runs) > 1:
        for row in rows:
            key = (benchmarks[row[1]], row[2])
            if row[6] is not None and reference.get(key) is not None and row[6] != reference[key]:
                flipped_keys.add(key)
    for row in rows:
        if len(runs) > 1:
            flipped = (benchmarks[row[1]], row[2]) in flipped_keys
        else:
            flipped = "0" in row[5] and "1" in row[5]
        row.insert(7, 1 if flipped else 0)
    if thumbnail_job is None:
        thumbnail_job = ThumbnailJob([t for run in runs for item in run.items.values() for t in item.thumbnails])
    thumbnail_of, thumbnails = thumbnail_job.result()
    for row in rows:  # rows carried the original strings until the re-encoded ones were ready
        row[8] = [thumbnail_of[t] for t in row[8] if thumbnail_of.get(t, -1) >= 0]
    chunks = [
        base64.b64encode(gzip.compress(json_text(details[start:start + CHUNK_ROWS])
                                       .encode("utf-8"), compresslevel=1, mtime=0)).decode("ascii")
        for start in range(0, len(details), CHUNK_ROWS)
    ]
    index = {
        "runs": [{"label": run.label, "mode": run.mode, "samples": run.samples} for run in runs],
        "benchmarks": list(benchmarks),
        "subjects": list(subjects),
        "methods": list(methods),
        "chunk_rows": CHUNK_ROWS,
        "flip_meaning": "majority verdict differs from the first run" if len(runs) > 1 else "samples disagree",
        # row: run, benchmark, id, subject, snippet, marks, majority, flipped, thumbnails
        "rows": rows,
    }
    notes = []
    if excerpted:
        notes.append(f"{excerpted:,} long texts are shown as head and tail excerpts "
                     f"(about {chars_per_sample:,} characters per response); generations.jsonl has them whole.")
    return DrillDown(index, chunks, thumbnails, chars_per_sample, excerpted, notes)
