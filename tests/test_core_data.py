"""Loaders for the three real formats, and the errors a user sees when data is wrong."""

from __future__ import annotations

import json
from pathlib import Path

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


def _write_definition(tmp_path, columns: dict, fmt: str = "tsv", file: str = "bench.tsv") -> Path:
    import yaml

    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump({"name": "bench", "source": {"format": fmt, "file": file},
                                    "answer_type": "mcq", "columns": columns}))
    return path


GOOD_COLUMNS = {"images": ["image"], "choices": ["A", "B"], "subject": "category", "meta": ["hint"]}


@pytest.mark.parametrize("key, wrong", [("subject", "categroy"), ("meta", ["hnit"]), ("choices", ["A", "b"])])
def test_a_misspelt_column_is_refused_before_any_model_loads(tmp_path, capsys, key, wrong):
    from bench_fixtures import mcq_row, write_tsv
    from harness.cli import main

    write_tsv(tmp_path / "bench.tsv", [mcq_row(1, "Which?", ["x", "y"], "A", category="c", hint="h")])
    definition = _write_definition(tmp_path, {**GOOD_COLUMNS, key: wrong})

    # The model directory does not exist: the column is what must stop the run, first.
    status = main(["run", "--bench", str(definition), "--model", str(tmp_path / "no-model"),
                   "--data-dir", str(tmp_path), "--out", str(tmp_path / "run")])

    message = capsys.readouterr().err.strip()
    assert status == 2 and len(message.splitlines()) == 1
    bad_name = wrong if isinstance(wrong, str) else wrong[-1]
    assert str(definition) in message and f"columns.{key} names column {bad_name!r}" in message
    assert "its columns are: index, question, A, B, answer, image, category, hint" in message
    assert not (tmp_path / "run").exists()


def test_a_file_with_every_named_column_loads(tmp_path):
    from bench_fixtures import mcq_row, write_tsv
    from harness.bench.spec import load_spec_file

    write_tsv(tmp_path / "bench.tsv", [mcq_row(1, "Which?", ["x", "y"], "A", category="c", hint="h")])
    (sample,) = load_samples(load_spec_file(_write_definition(tmp_path, GOOD_COLUMNS)), tmp_path)
    assert (sample.subject, sample.meta, sample.choices) == ("c", {"hint": "h"}, {"A": "x", "B": "y"})


def test_undecodable_base64_is_reported_as_such_with_the_row(tmp_path):
    from bench_fixtures import mcq_row, png_base64, write_tsv

    broken = png_base64(7)[:100] + "*!" + png_base64(7)[100:]
    write_tsv(tmp_path / "bench.tsv", [mcq_row(1, "Fine", ["x", "y"], "A"),
                                       {**mcq_row(2, "Broken", ["x", "y"], "B"), "image": broken}])
    spec = _spec("tsv", "bench.tsv", images=["image"], choices=["A", "B"])

    fine, broken_item = load_samples(spec, tmp_path)

    assert fine.error is None and len(fine.images) == 1
    assert broken_item.error.startswith(f"{tmp_path / 'bench.tsv'} data row 2 column 'image' image 0: undecodable base64")
    assert "No such file" not in broken_item.error and broken_item.images == []


def test_an_image_reference_to_a_missing_row_is_an_item_error(tmp_path):
    from bench_fixtures import mcq_row, write_tsv

    write_tsv(tmp_path / "bench.tsv", [{**mcq_row(1, "Which?", ["x", "y"], "A"), "image": "99"}])
    (sample,) = load_samples(_spec("tsv", "bench.tsv", images=["image"], choices=["A", "B"]), tmp_path)
    assert "refers to the image of row index '99'" in sample.error


def _cut(path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_a_tsv_cut_mid_row_is_refused_naming_the_row(tmp_path):
    from bench_fixtures import mcq_row, write_tsv

    path = write_tsv(tmp_path / "bench.tsv", [mcq_row(i, f"Question {i}", ["x", "y"], "A") for i in range(1, 5)])
    lines = path.read_bytes().split(b"\n")
    # A cut between fields of the fourth row: the answer and the image never arrived.
    path.write_bytes(b"\n".join(lines[:4]) + b"\n" + lines[4].split(b"\t")[0] + b"\tQuestion 4\n")

    with pytest.raises(DataError) as caught:
        load_samples(_spec("tsv", "bench.tsv", images=["image"], choices=["A", "B"]), tmp_path)

    message = str(caught.value)
    assert f"{path} data row 4 (line 5): 2 fields for 6 columns" in message and "cut off" in message


def test_a_tsv_cut_inside_a_field_is_refused(tmp_path):
    import csv

    from bench_fixtures import mcq_row, write_tsv

    rows = [mcq_row(i, f"Question {i}", ["x", "y"], "A") for i in range(1, 5)]
    quoted = write_tsv(tmp_path / "quoted" / "bench.tsv", rows, quoting=csv.QUOTE_ALL)
    plain = write_tsv(tmp_path / "plain" / "bench.tsv", rows)
    _cut(quoted, 0.9)  # inside the last row's quoted image cell
    plain.write_bytes(plain.read_bytes().rstrip(b"\n")[:-5])  # inside the last row's last cell

    spec = _spec("tsv", "bench.tsv", images=["image"], choices=["A", "B"])
    with pytest.raises(DataError, match=r"line 5: cannot parse as TSV .*cut off"):
        load_samples(spec, tmp_path / "quoted")
    with pytest.raises(DataError, match=r"data row 4: the last row does not end with a line break; .*cut off"):
        load_samples(spec, tmp_path / "plain")


NA_LIKE = ["None", "N/A", "NaN", "null"]


def test_na_like_texts_are_texts_in_every_format(tmp_path):
    import pandas as pd

    from bench_fixtures import write_tsv

    row = {"index": 1, "question": "q", **dict(zip("ABCD", NA_LIKE)), "answer": "A", "hint": "None"}
    write_tsv(tmp_path / "d.tsv", [row])
    (tmp_path / "d.jsonl").write_text(json.dumps({**row, "E": None}) + "\n")
    pd.DataFrame([{**row, "E": None}]).to_parquet(tmp_path / "d.parquet")

    for fmt in ("tsv", "jsonl", "parquet"):
        choices = ["A", "B", "C", "D"] + ([] if fmt == "tsv" else ["E"])
        (sample,) = load_samples(_spec(fmt, f"d.{fmt}", choices=choices, meta=["hint"]), tmp_path)
        assert sample.choices == dict(zip("ABCD", NA_LIKE)), fmt  # a real null (E) is missing
        assert sample.meta == {"hint": "None"}, fmt


def test_letters_takes_every_one_letter_column_in_order(tmp_path):
    from bench_fixtures import write_tsv

    write_tsv(tmp_path / "d.tsv", [{"index": 1, "question": "q", "B": "b", "A": "a", "C": "", "AB": "no",
                                    "answer": "B"}])
    (sample,) = load_samples(_spec("tsv", "d.tsv", choices="letters"), tmp_path)
    assert sample.choices == {"A": "a", "B": "b"}


def test_a_misspelt_filter_column_is_refused_rather_than_filtering_everything_out(tmp_path):
    from bench_fixtures import mcq_row, write_tsv

    write_tsv(tmp_path / "d.tsv", [mcq_row(1, "q", ["x", "y"], "A", split="validation")])
    spec = parse_spec({"name": "t", "source": {"format": "tsv", "file": "d.tsv", "filter": {"splt": "validation"}},
                       "columns": {"choices": ["A", "B"]}})
    with pytest.raises(DataError, match=r"source.filter names column 'splt', which .*d.tsv does not have"):
        load_samples(spec, tmp_path)


def test_a_malformed_quote_in_a_tsv_names_the_line(tmp_path):
    (tmp_path / "d.tsv").write_text('index\tquestion\tanswer\n1\t"quoted" then text\tA\n')
    with pytest.raises(DataError, match=r"d.tsv line 2: cannot parse as TSV .*a quoted field must be closed"):
        load_samples(_spec("tsv", "d.tsv"), tmp_path)
