"""Untrusted text may hold lone UTF-16 surrogates; every file that writes it keeps it, losslessly.

`json.loads` turns a `\\ud800` escape in any input file into a lone surrogate, which UTF-8 cannot
encode: a write of it used to fail, losing every row written with it. (`harness score`'s own output is
tested in test_verify_cli.py.)
"""

import json

from runfixtures import RunSpec, make_items, write_run

from harness.rundir import json_text
from harness.report.report import write_report
from harness.rundir import append_jsonl, read_jsonl, write_json_atomic, write_jsonl_atomic
from harness.rundir import RunDir
from harness.verify.scoring import score_run

ROW = {"text": "a\ud800b", "nested": ["\udfff", "中文"]}


def test_json_text_escapes_only_lone_surrogates():
    text = json_text(ROW)
    assert "\\ud800" in text and "\\udfff" in text and "中文" in text
    text.encode("utf-8")
    assert json.loads(text) == ROW


def test_run_directory_writers_keep_lone_surrogates(tmp_path):
    append_jsonl(tmp_path / "g.jsonl", [ROW])
    write_jsonl_atomic(tmp_path / "s.jsonl", [ROW])
    write_json_atomic(tmp_path / "m.json", ROW)
    assert list(read_jsonl(tmp_path / "g.jsonl")) == list(read_jsonl(tmp_path / "s.jsonl")) == [ROW]
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8")) == ROW
    assert "中文" in (tmp_path / "s.jsonl").read_text(encoding="utf-8")  # other text stays as written


def test_a_run_with_lone_surrogates_is_scored_and_reported(tmp_path):
    items = make_items("sample", 2, with_thumbnails=False)
    run = write_run(tmp_path / "run", RunSpec(items=items, outcomes={(i["benchmark"], i["id"]): [True]
                                                                     for i in items}, samples=1))
    rows = list(read_jsonl(run / "items.jsonl"))
    rows[0]["question"] = "which \ud800 option?"
    write_jsonl_atomic(run / "items.jsonl", rows)
    generations = list(read_jsonl(run / "generations.jsonl"))
    generations[0]["text"] = f"thinking \udfff</think>\\boxed{{{rows[0]['answer']}}} \ud83d"
    write_jsonl_atomic(run / "generations.jsonl", generations)
    scored = score_run(RunDir(run))
    assert scored[0]["correct"] is True
    report = write_report([run], tmp_path / "report.html")
    assert report.stat().st_size > 0
