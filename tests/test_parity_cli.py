"""`harness score --parity`: the comparison printed, written as JSON, and shown by `harness report`."""

from __future__ import annotations

import json

import pytest
from judge_server import JudgeServer
from runfixtures import RunSpec, make_items, random_outcomes, write_run
from test_verify_cli import parse, write_lines

from harness.cli import score as cli_score
from harness.report.report import build_report

ROWS = [
    {"id": "validation_Art_1", "question": "Which?", "answer": "B", "choices": ["cat", "dog", "cow"],
     "response": "reasoning</think>The answer is \\boxed{B}."},
    {"id": "validation_Art_2", "question": "Which?", "answer": "A", "choices": ["cat", "dog"],
     "response": "reasoning</think>\\boxed{A}"},
    {"id": "validation_Math_3", "question": "Value?", "answer": "24/7", "accepted_answers": ["24/7", "3.428"],
     "response": "reasoning</think>\\boxed{3.428}"},
    {"id": "pid-4", "question": "Value?", "answer": "1.5", "answer_type": "number", "benchmark": "mathvista_testmini",
     "meta": {"question_type": "free_form", "answer_type": "float", "precision": 1.0}, "response": "1.5"},
    {"id": "other-5", "question": "Count?", "answer": "3", "benchmark": "sample", "response": "3"},
]


def test_parity_on_a_predictions_file_prints_and_writes_each_peer(tmp_path, capsys):
    out = tmp_path / "out" / "scored.jsonl"
    code = cli_score.main(parse([str(write_lines(tmp_path / "p.jsonl", ROWS)), "-o", str(out),
                                 "--parity", "vlmevalkit,lmms-eval", "--parity", "r1v3"]))
    err = capsys.readouterr().err
    assert code == 0
    assert "parity vlmevalkit: ours 100.0% (4/4)" in err
    assert "parity lmms-eval: ours 100.0% (4/4)  lmms-eval 50.0% (2/4); 2 random draws" in err
    assert "left out sample (1)" in err
    reports = {peer: json.loads((out.parent / f"parity-{peer}.json").read_text())
               for peer in ("vlmevalkit", "lmms-eval", "r1v3")}
    lmms = reports["lmms-eval"]
    assert lmms["items"] == 4 and lmms["skipped"] == {"sample": 1}
    assert {d["reason"] for d in lmms["differences"]} <= {"random_fallback", "precision"}
    assert lmms["by_reason"]["precision"] == 1 and lmms["reasons"]["precision"].startswith("precision")
    # a gold list reaches the release's script as the text of the list, which no box equals
    assert reports["r1v3"]["peer_accuracy"] == 75.0
    assert len(out.read_text().splitlines()) == len(ROWS)  # the scored predictions are written as before


def test_a_gold_list_counts_any_accepted_answer_as_ours(tmp_path):
    path = write_lines(tmp_path / "p.jsonl", [ROWS[2]])
    assert cli_score.main(parse([str(path), "-o", str(tmp_path / "s.jsonl"), "--parity", "lmms-eval"])) == 0
    report = json.loads((tmp_path / "parity-lmms-eval.json").read_text())
    assert (report["ours_correct"], report["peer_correct"]) == (1, 1)


@pytest.mark.parametrize("extra,message", [
    (["--parity", "vlmeval"], "harness score: unknown parity peer 'vlmeval'; choose from vlmevalkit, lmms-eval, r1v3"),
    (["--parity", "r1v3"], "p.jsonl:1: item 'pid-9': MathVista answer_type 'number' is not one of"),
])
def test_bad_parity_input_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    row = {"id": "pid-9", "question": "?", "answer": "2", "response": "2",
           "meta": {"question_type": "free_form", "answer_type": "number"}}
    path = write_lines(tmp_path / "p.jsonl", [row])
    code = cli_score.main(parse([str(path), "-o", str(tmp_path / "s.jsonl"), *extra]))
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_r1v3_asks_the_harness_judge_where_vlmevalkit_would_ask_gpt(tmp_path):
    row = {"id": "validation_Geography_6", "question": "Which city?", "answer": "Paris",
           "response": "After a long look at the map, the rivers and the bridges, I believe the city is Paris."}
    path = write_lines(tmp_path / "p.jsonl", [row])
    assert cli_score.main(parse([str(path), "-o", str(tmp_path / "s.jsonl"), "--parity", "r1v3"])) == 0
    assert json.loads((tmp_path / "parity-r1v3.json").read_text())["peer_correct"] == 0
    with JudgeServer() as server:
        code = cli_score.main(parse([str(path), "-o", str(tmp_path / "s.jsonl"), "--parity", "r1v3",
                                     "--judge-url", server.url, "--judge-model", "scripted-judge",
                                     "--judge-policy", "union"]))
    report = json.loads((tmp_path / "parity-r1v3.json").read_text())
    assert code == 0 and len(server.requests) == 2  # ours (union) and the release's GPT stand-in
    assert (report["peer_correct"], report["options"]["judge"]) == (1, True)


def _mmmu_run(tmp_path):
    items = make_items("mmmu_val", 6, id_prefix="validation_Art_") + make_items("sample", 2)
    items[0]["id"] = "validation_Art_<b>0</b>"
    spec = RunSpec(items=items, outcomes=random_outcomes(items, 2, 0.6, seed=1), samples=2)
    return write_run(tmp_path / "run", spec)


def test_parity_on_a_run_directory_lands_in_it_and_in_the_report(tmp_path, capsys):
    run = _mmmu_run(tmp_path)
    assert cli_score.main(parse([str(run), "--parity", "lmms-eval,vlmevalkit"])) == 0
    assert "left out sample (4)" in capsys.readouterr().err
    report = json.loads((run / "parity-lmms-eval.json").read_text())
    assert report["items"] == 12 and report["random_draws"] == 12  # "\\boxed{X}." is no letter shape to it
    html = build_report([run])
    assert "Parity with other tools" in html and "lmms-eval" in html and "random_fallback" in html
    assert "validation_Art_&lt;b&gt;0&lt;/b&gt;#0" in html and "<b>0</b>" not in html
    assert "computed from other scores" not in html


def test_the_report_warns_when_the_scores_changed_since_the_comparison(tmp_path):
    run = _mmmu_run(tmp_path)
    assert cli_score.main(parse([str(run), "--parity", "vlmevalkit"])) == 0
    rows = (run / "scores.jsonl").read_text().splitlines()
    (run / "scores.jsonl").write_text("\n".join(rows[1:]) + "\n")
    assert "parity-vlmevalkit.json was computed from other scores than scores.jsonl holds now" in build_report([run])
