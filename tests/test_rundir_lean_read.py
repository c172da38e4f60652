"""Reading generations.jsonl without its token ids: scoring, resuming, merging checks and the summary read only
the texts, so a long run's tens of millions of ids are neither parsed nor held. The rows must be exactly the
full rows less that one field, whatever a model wrote into its text."""

from __future__ import annotations

import json

import pytest

from harness.rundir import JsonlAppender, RunDir, read_jsonl

TRICKY_TEXTS = [
    'plain answer 17',
    'it wrote , "token_ids": [1, 2, 3] in its answer',  # the field's own spelling, inside a string
    '\\", "token_ids": [4] after an escaped quote',
    'ends with a backslash \\',
    '{"token_ids": [5]}',
    '',
]


def rows() -> list[dict]:
    return [{"benchmark": "b", "id": f"q{n}", "sample_index": 0, "text": text, "token_ids": list(range(n + 1)),
             "finish_reason": "stop", "forced": False, "think_tokens": 0, "answer_tokens": n + 1, "prompt_tokens": 3,
             "seed": n, "latency_s": 0.1, "error": None} for n, text in enumerate(TRICKY_TEXTS)]


def write(path, written):
    with JsonlAppender(path) as appender:
        for row in written:
            appender.append(row)


def test_rows_are_the_full_rows_less_the_ids_even_when_a_text_spells_the_field(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    written = rows()
    write(run.generations_path, written)
    full, lean = run.generations(), run.generations(token_ids=False)
    assert [full[("b", r["id"], 0)] for r in written] == written
    assert [lean[("b", r["id"], 0)] for r in written] == [{k: v for k, v in r.items() if k != "token_ids"}
                                                          for r in written]


def test_a_line_with_other_separators_loses_its_ids_too(tmp_path):
    path = tmp_path / "generations.jsonl"
    row = rows()[1]
    path.write_text(json.dumps(row, separators=(",", ":")) + "\n" + json.dumps(row, indent=None) + "\n")
    lean = list(read_jsonl(path, token_ids=False))
    assert lean == [{k: v for k, v in row.items() if k != "token_ids"}] * 2


def test_a_corrupt_line_is_still_named_by_the_lean_reader(tmp_path):
    path = tmp_path / "generations.jsonl"
    path.write_text(json.dumps(rows()[0]) + "\n" + '{"text": "x", "token_ids": [1, 2], oops}\n'
                    + json.dumps(rows()[2]) + "\n")
    with pytest.raises(Exception, match=r"generations.jsonl:2: not a valid JSON line"):
        list(read_jsonl(path, token_ids=False))
