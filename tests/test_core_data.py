"""Loaders for the three real formats, and the errors a user sees when data is wrong."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from harness.bench.spec import BenchmarkError, parse_spec
from harness.bench.loaders import DataError, load_samples


def _spec(fmt: str, file: str, **columns):
    return parse_spec({"name": "t", "source": {"format": fmt, "file": file}, "answer_type": "auto",
                       "columns": columns})


def test_jsonl_with_image_paths_relative_to_the_file(tmp_path):
    Image.new("RGB", (20, 10), "red").save(tmp_path / "a.png")
    rows = [{"qid": "1", "q": "How many?", "a": "3", "img": "a.png", "cat": "count"},
            {"qid": "2", "q": "Pick", "a": "B", "options": ["x", "y"], "img": None, "cat": "mcq"}]
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    spec = _spec("jsonl", "data.jsonl", id="qid", question="q", answer="a", images=["img"], subject="cat",
                 choices_list="options")
    first, second = load_samples(spec, tmp_path)
    assert first.images[0].size == (20, 10) and first.answer_type == "number" and first.subject == "count"
    assert second.choices == {"A": "x", "B": "y"} and second.answer_type == "mcq" and not second.images


def test_jsonl_syntax_error_names_file_and_line(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"id": 1, "question": "q", "answer": "1"}\n{oops\n')
    with pytest.raises(DataError, match=r"data.jsonl:2: not valid JSON"):
        load_samples(_spec("jsonl", "data.jsonl", id="id"), tmp_path)


def test_parquet_with_image_structs(tmp_path):
    import io

    import pandas as pd

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="PNG")
    frame = pd.DataFrame([{"id": "x", "question": "q", "answer": "\\frac{1}{2}",
                           "image": {"bytes": buffer.getvalue(), "path": None}}])
    frame.to_parquet(tmp_path / "d.parquet")
    (sample,) = load_samples(_spec("parquet", "d.parquet", id="id", images=["image"]), tmp_path)
    assert sample.images[0].size == (8, 8) and sample.answer_type == "math"


def test_duplicate_ids_are_refused(tmp_path):
    (tmp_path / "data.jsonl").write_text('{"id": 1, "question": "q", "answer": "1"}\n' * 2)
    with pytest.raises(DataError, match="duplicate item id '1'"):
        load_samples(_spec("jsonl", "data.jsonl", id="id"), tmp_path)


def test_bad_definition_names_the_key():
    with pytest.raises(BenchmarkError, match="unknown keys"):
        parse_spec({"name": "t", "source": {"format": "tsv", "file": "x"}, "colums": {}})
    with pytest.raises(BenchmarkError, match="source.format 'csv'"):
        parse_spec({"name": "t", "source": {"format": "csv", "file": "x"}})


def test_sample_benchmark_is_deterministic():
    from harness.bench.spec import get_spec
    from harness.bench.loaders import fingerprint_samples

    spec = get_spec("sample")
    assert fingerprint_samples(load_samples(spec)) == fingerprint_samples(load_samples(spec))
    samples = load_samples(spec)
    assert len(samples) == 40 and sum(bool(s.images) for s in samples) == 20
    assert {s.answer_type for s in samples} == {"mcq", "number"}
