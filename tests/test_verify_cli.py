"""`harness score` on a predictions file and on a run directory."""

import argparse
import json

import pytest
from judge_server import JudgeServer
from runfixtures import simple_run

from harness.cli import score as cli_score

PREDICTIONS = [
    {"id": "m1", "question": "Which?", "answer": "B", "response": "r</think>(B)", "choices": ["x", "y"]},
    {"id": "m2", "question": "Which?", "answer": "A", "response": "r</think>\\boxed{B}", "choices": {"A": "x", "B": "y"}},
    {"id": "n1", "question": "How many?", "answer": "12", "response": "The answer is 12 apples.", "answer_type": "number"},
    {"id": "s1", "question": "Simplify", "answer": "\\frac{1}{2}", "response": "r</think>\\boxed{\\frac{2}{4}}"},
    {"id": "t1", "question": "Capital?", "answer": "Paris", "response": "r</think>I believe it is Paris."},
]


def parse(argv):
    parser = argparse.ArgumentParser()
    cli_score.configure(parser)
    return parser.parse_args(argv)


def write_lines(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_scores_a_predictions_file(tmp_path, capsys):
    out = tmp_path / "scored.jsonl"
    assert cli_score.main(parse([str(write_lines(tmp_path / "p.jsonl", PREDICTIONS)), "-o", str(out)])) == 0
    rows = read_lines(out)
    assert [r["id"] for r in rows] == [p["id"] for p in PREDICTIONS]
    assert [r["correct"] for r in rows] == [True, False, True, True, False]
    assert [r["method"] for r in rows] == ["mcq", "mcq", "numeric", "numeric", "string"]
    assert rows[0]["question"] == "Which?" and rows[0]["extracted"] == "B" and rows[0]["format_ok"] is True
    assert "rule-only: 60.00% (3/5)" in capsys.readouterr().err


def test_writes_to_stdout_without_an_output_file(tmp_path, capsys):
    cli_score.main(parse([str(write_lines(tmp_path / "p.jsonl", PREDICTIONS[:1]))]))
    assert json.loads(capsys.readouterr().out)["correct"] is True


def test_judge_flags_reach_the_judge(tmp_path):
    out = tmp_path / "scored.jsonl"
    with JudgeServer() as server:
        code = cli_score.main(parse([str(write_lines(tmp_path / "p.jsonl", PREDICTIONS)), "-o", str(out),
                                     "--judge-url", server.url, "--judge-model", "scripted-judge"]))
    rows = read_lines(out)
    assert code == 0 and len(server.requests) == 1  # fallback: only the undecided text answer
    assert (rows[4]["method"], rows[4]["correct"], rows[4]["rule_correct"]) == ("judge", True, False)


@pytest.mark.parametrize("line,message", [
    ("not json", "p.jsonl:2: not valid JSON"),
    ('{"id": "x", "question": "q", "answer": "1"}', "p.jsonl:2: missing required field 'response'"),
    ('{"id": "x", "question": "q", "answer": "1", "response": "1", "answer_type": "essay"}', "answer_type 'essay'"),
    ('{"id": "x", "question": "q", "answer": "1", "response": "1", "choices": "AB"}', "field 'choices' must be"),
])
def test_bad_lines_are_reported_with_file_and_line(tmp_path, capsys, line, message):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(PREDICTIONS[0]) + "\n" + line + "\n", encoding="utf-8")
    assert cli_score.main(parse([str(path)])) == 2
    assert message in capsys.readouterr().err


def test_judge_policy_without_a_judge_is_refused(tmp_path, capsys):
    path = write_lines(tmp_path / "p.jsonl", PREDICTIONS)
    assert cli_score.main(parse([str(path), "--judge-policy", "union"])) == 2
    assert "needs --judge-url" in capsys.readouterr().err


def test_rescoring_a_run_directory_reproduces_its_outcomes(tmp_path):
    run = simple_run(tmp_path / "run", n_items=12, samples=2, errored={("sample", "q00003", 1)})
    expected = {(r["id"], r["sample_index"]): r["correct"] for r in read_lines(run / "scores.jsonl")}
    (run / "scores.jsonl").unlink()
    (run / "summary.json").unlink()
    assert cli_score.main(parse([str(run)])) == 0
    rows = read_lines(run / "scores.jsonl")
    assert {(r["id"], r["sample_index"]): r["correct"] for r in rows} == expected
    errored = next(r for r in rows if (r["id"], r["sample_index"]) == ("q00003", 1))
    assert (errored["method"], errored["correct"]) == ("error", None)
    assert json.loads((run / "summary.json").read_text())["benchmarks"]["sample"]["n_items"] == 12


def test_a_missing_path_is_an_error(tmp_path, capsys):
    assert cli_score.main(parse([str(tmp_path / "nope.jsonl")])) == 2
    assert "no such file or directory" in capsys.readouterr().err


LONE_SURROGATE_LINE = ('{"id": "s1", "question": "q \\ud800", "answer": "10", "response": "r\\udfff</think>\\\\boxed{10}",'
                       ' "answer_type": "number"}\n')


def test_a_lone_surrogate_in_a_response_is_written_and_reads_back(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text(LONE_SURROGATE_LINE + json.dumps(PREDICTIONS[0]) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "scored.jsonl"
    assert cli_score.main(parse([str(path), "-o", str(out)])) == 0
    rows = read_lines(out)
    assert (rows[0]["response"], rows[0]["question"], rows[0]["correct"]) == ("r\udfff</think>\\boxed{10}", "q \ud800", True)
    assert rows[1]["correct"] is True
    assert [p.name for p in out.parent.iterdir()] == ["scored.jsonl"]  # no temporary file left behind
    assert cli_score.main(parse([str(path)])) == 0  # and to stdout
    assert json.loads(capsys.readouterr().out.splitlines()[0])["response"] == "r\udfff</think>\\boxed{10}"


def test_an_empty_gold_is_an_invalid_item_and_the_file_is_still_scored(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(PREDICTIONS[0]) + "\n" + json.dumps({"id": "x", "question": "q", "answer": "",
                                                                     "response": "1"}) + "\n", encoding="utf-8")
    assert cli_score.main(parse([str(path)])) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [(r["method"], r["correct"]) for r in rows] == [("mcq", True), ("invalid_item", None)]
    assert rows[1]["detail"] == "the gold answer is empty"
    assert "item 'x' not scored (invalid_item): the gold answer is empty" in captured.err
