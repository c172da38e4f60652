"""Configs and data rows: typos and malformed input stop the run with the file, line or key named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from train.config import load_config
from train.data import DataError, load_items, read_jsonl, synthetic_arithmetic

CONFIGS = Path(__file__).resolve().parent.parent / "train" / "configs"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_row_that_is_not_json_is_reported_with_file_and_line(tmp_path):
    path = write(tmp_path / "data.jsonl", [json.dumps({"question": "q", "answer": "1"}), "{not json"])
    with pytest.raises(DataError, match=r"data\.jsonl:2: not valid JSON"):
        read_jsonl(path)


def test_a_row_without_a_question_is_reported_with_file_line_and_field(tmp_path):
    path = write(tmp_path / "data.jsonl", [json.dumps({"question": "q", "answer": "1"}), "",
                                           json.dumps({"answer": "2"})])
    with pytest.raises(DataError, match=r"data\.jsonl:3: field 'question'"):
        read_jsonl(path)


def test_an_sft_row_needs_a_response(tmp_path):
    path = write(tmp_path / "sft.jsonl", [json.dumps({"question": "q", "answer": "1"})])
    with pytest.raises(DataError, match=r"sft\.jsonl:1: field 'response'"):
        read_jsonl(path, need_response=True)


def test_an_unknown_answer_type_is_refused(tmp_path):
    path = write(tmp_path / "data.jsonl", [json.dumps({"question": "q", "answer": "1", "answer_type": "int"})])
    with pytest.raises(DataError, match="answer_type 'int'"):
        read_jsonl(path)


def test_a_missing_image_file_is_named(tmp_path):
    path = write(tmp_path / "data.jsonl", [json.dumps({"question": "q", "answer": "1", "images": ["nope.png"]})])
    with pytest.raises(DataError, match="nope.png"):
        read_jsonl(path)


def test_choices_given_as_a_list_become_lettered_options(tmp_path):
    path = write(tmp_path / "data.jsonl", [json.dumps({"question": "q", "answer": "B", "answer_type": "mcq",
                                                       "choices": ["x", "y"]})])
    assert read_jsonl(path)[0].choices == {"A": "x", "B": "y"}


def test_synthetic_task_is_deterministic_per_seed_and_correct():
    first, again, other = synthetic_arithmetic(20, seed=4), synthetic_arithmetic(20, seed=4), synthetic_arithmetic(20, seed=5)
    assert [i.question for i in first] == [i.question for i in again]
    assert [i.question for i in first] != [i.question for i in other]
    for item in first:
        a, b = (int(x) for x in item.question.removeprefix("What is ").removesuffix("?").split(" + "))
        assert item.answer == str(a + b)
        assert item.response.endswith(f"\\boxed{{{a + b}}}")


def test_synthetic_spec_takes_its_options_from_the_query():
    items = load_items("synthetic:arithmetic?n=7&seed=1&max_operand=2")
    assert len(items) == 7 and all(int(i.answer) <= 4 for i in items)


def test_unknown_synthetic_task_is_named():
    with pytest.raises(DataError, match="'geometry'"):
        load_items("synthetic:geometry")


def test_shipped_configs_all_load():
    names = sorted(p.name for p in CONFIGS.glob("*.yaml"))
    assert {"paper.yaml", "cpu_demo_sft.yaml", "cpu_demo_grpo.yaml", "connector_sft.yaml"} <= set(names)
    for path in CONFIGS.glob("*.yaml"):
        load_config(path)


def test_paper_config_mirrors_the_report():
    config = load_config(CONFIGS / "paper.yaml")
    assert config.rollout.samples_per_prompt == 32
    assert config.rollout.samples_per_prompt * config.rollout.prompts_per_step == 1024
    assert config.optim.lr == 1e-5 and config.loss.clip_low == config.loss.clip_high == 0.2
    assert config.loss.beta == 0.0 and config.reward.eps == 0.8
    assert (config.freeze.train_vision, config.freeze.train_connector, config.freeze.train_llm) == (True, True, True)


def test_overrides_are_typed_and_nested(tmp_path):
    config = load_config(CONFIGS / "cpu_demo_grpo.yaml", ["loss.clip_high=0.28", "rollout.dynamic_sampling=true"])
    assert config.loss.clip_high == 0.28 and config.rollout.dynamic_sampling is True


def test_an_unknown_key_is_refused_with_its_section(tmp_path):
    path = write(tmp_path / "c.yaml", ["loss:", "  clip_hgh: 0.3"])
    with pytest.raises(ValueError, match=r"c\.yaml: loss: unknown setting\(s\) \['clip_hgh'\]"):
        load_config(path)


def test_a_wrongly_typed_value_is_refused_with_its_key():
    with pytest.raises(ValueError, match=r"optim\.lr: expected a number"):
        load_config(None, ["optim.lr=fast"])


def test_connector_sft_config_freezes_vision_and_llm():
    config = load_config(CONFIGS / "connector_sft.yaml")
    assert config.stage == "connector_sft"
    assert (config.freeze.train_vision, config.freeze.train_connector, config.freeze.train_llm) == (False, True, False)
    assert config.optim.lr == 1e-5 and config.optim.schedule == "cosine" and config.optim.warmup_ratio == 0.03


def test_the_command_line_reports_a_bad_override_and_exits_2(capsys):
    from train.__main__ import main

    assert main(["grpo", "--config", str(CONFIGS / "cpu_demo_grpo.yaml"), "loss.clip_hgh=0.3"]) == 2
    assert "unknown setting(s) ['clip_hgh']" in capsys.readouterr().err


# golds without an answer_type and right answers whose credit depends on the type the item gets
UNTYPED_ROWS = [("\\frac{1}{2}", "r</think>\\boxed{0.5}"), ("1,000", "r</think>\\boxed{1000}"),
                ("12%", "r</think>\\boxed{12}"), ("(C)", "r</think>The answer is C."),
                ("Paris", "r</think>\\boxed{paris}")]


def test_a_row_without_answer_type_is_typed_and_scored_as_harness_score_does(tmp_path):
    import subprocess
    import sys

    from harness.types import infer_answer_type
    from train.reward import harness_reward

    rows = [{"id": f"u{i}", "question": "q", "answer": answer} for i, (answer, _) in enumerate(UNTYPED_ROWS)]
    items = read_jsonl(write(tmp_path / "train.jsonl", [json.dumps(row) for row in rows]))
    assert [item.answer_type for item in items] == [infer_answer_type(answer, {}) for answer, _ in UNTYPED_ROWS]
    responses = [response for _, response in UNTYPED_ROWS]
    trained = [record.accuracy for record in harness_reward()(items, responses)]

    predictions = write(tmp_path / "pred.jsonl", [json.dumps({**row, "response": response, "thinking": True})
                                                   for row, response in zip(rows, responses)])
    scored_path = tmp_path / "scored.jsonl"
    result = subprocess.run([sys.executable, "-m", "harness", "score", str(predictions), "-o", str(scored_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    scored = [json.loads(line) for line in scored_path.read_text().splitlines()]
    assert trained == [1.0 if row["correct"] is True else 0.0 for row in scored]
    # the typing matters here: as plain text most of these right answers would earn nothing
    assert trained.count(1.0) >= 4


def test_an_untyped_row_with_choices_is_a_multiple_choice_item(tmp_path):
    path = write(tmp_path / "data.jsonl", [json.dumps({"question": "q", "answer": "y", "choices": ["x", "y"]})])
    assert read_jsonl(path)[0].answer_type == "mcq"
