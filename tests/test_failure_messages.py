"""Every failure a user can cause is one line naming what, where and what to do, a non-zero exit, and no
change to the run directory -- for each command, and for configuration that tries to run code.

The commands run in-process through `harness.cli.main`, as the `harness` console script runs them; the
run directory they meet is a real one, written by `harness run` with the transformers engine.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from failure_fixtures import error_line, run_tiny, snapshot

from harness.cli import main as cli_main

SSTI = "{{ cycler.__init__.__globals__.os.system('touch %s') }}\n"


@pytest.fixture(scope="module")
def finished_run(tiny_text_dir, hf_text_engine, tmp_path_factory) -> Path:
    return run_tiny(tiny_text_dir, hf_text_engine, tmp_path_factory.mktemp("finished") / "run", budget=8, limit=4)


@pytest.fixture()
def run_dir(finished_run, tmp_path) -> Path:
    """A copy of the finished run for one test to break."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def _run_argv(model: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "--model", str(model), "--engine", "hf", "--bench", "sample", "--mode", "slow", "--budget", "8",
            "--samples", "1", "--limit", "4", "--dtype", "float32", "--out", str(out), "--quiet", *extra]


def _fails(argv: list[str], capsys) -> str:
    code = cli_main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    return error_line(captured.err, argv[0])


@pytest.mark.parametrize("verb", ["run", "sweep"])
@pytest.mark.parametrize("setting, flags, expected", [
    ("temperature: hot\n", [], "{config}: temperature must be a number, got 'hot'"),
    ("", ["--top-k", "-1"], "--top-k must be >= 0 (0 = off), got -1"),
    ("temprature: 0.6\n", [], "{config}: unknown settings ['temprature']; known: "),
    ("batch_size: 64\n", [], "{config}: batch_size: generation now streams"),
], ids=["wrong-type", "negative-top-k", "unknown-setting", "removed-batch-size"])
def test_a_bad_setting_is_one_line_and_changes_nothing(verb, setting, flags, expected, tiny_text_dir, run_dir,
                                                       tmp_path, capsys):
    config = tmp_path / "settings.yaml"
    config.write_text(setting, encoding="utf-8")
    before = snapshot(run_dir)
    argv = _run_argv(tiny_text_dir, run_dir, "--config", str(config), *flags)
    if verb == "sweep":
        argv = ["sweep", *[a for a in argv[1:] if a not in ("--mode", "slow", "--budget", "8")], "--modes", "slow",
                "--budgets", "8"]
    assert expected.format(config=f"--config {config}") in _fails(argv, capsys)
    assert snapshot(run_dir) == before


def test_an_api_key_as_an_engine_argument_is_refused_and_never_echoed(tiny_text_dir, tmp_path, capsys):
    line = _fails(_run_argv(tiny_text_dir, tmp_path / "new", "--engine-arg", "api_key=sk-live-0123456789"), capsys)
    assert "--engine-arg api_key: keys are read from the environment" in line and "--engine-key-env" in line
    assert "sk-live-0123456789" not in line
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("verb", ["run", "score", "report", "compare", "leaderboard"])
def test_a_corrupted_generation_line_is_one_line_for_every_command_and_changes_nothing(verb, tiny_text_dir, run_dir,
                                                                                       finished_run, capsys):
    path = run_dir / "generations.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    path.write_bytes(lines[0][:25] + b"\n" + b"".join(lines[1:]))  # the first line cut short, the rest intact
    before = snapshot(run_dir)
    argv = {"run": _run_argv(tiny_text_dir, run_dir), "score": ["score", str(run_dir)],
            "report": ["report", str(run_dir)], "compare": ["compare", str(finished_run), str(run_dir)],
            "leaderboard": ["leaderboard", str(run_dir)]}[verb]
    line = _fails(argv, capsys)
    assert f"{path}:1: not a valid JSON line" in line and "repair or delete that line" in line
    assert snapshot(run_dir) == before, "manifest.json and every other file stay byte-identical"


@pytest.mark.parametrize("row, expected", [
    ({"seed": 1, "text": "x", "token_ids": [1, "2"], "finish_reason": "length", "prompt_tokens": 3},
     "token ids should be integers"),
    ({"seed": 1, "text": "x", "token_ids": [1], "finish_reason": "length"}, "missing required field 'prompt_tokens'"),
], ids=["string-token-id", "missing-field"])
def test_a_bad_kept_thought_is_one_line_naming_file_and_line(row, expected, tiny_text_dir, run_dir, capsys):
    path = run_dir / "thoughts.jsonl"
    path.write_text(json.dumps({"benchmark": "sample", "id": "x", "sample_index": 0, **row}) + "\n", encoding="utf-8")
    before = snapshot(run_dir)
    line = _fails(_run_argv(tiny_text_dir, run_dir), capsys)
    assert f"{path}:1: {expected}" in line
    assert snapshot(run_dir) == before


def test_a_kept_thought_the_engine_would_refuse_is_thought_again(tiny_text_dir, tmp_path, capsys):
    """Token ids outside the tokenizer's vocabulary (a hand-edited or foreign thoughts.jsonl) would make vLLM
    refuse the answer phase mid-run: such a job thinks again, and a note says how many; another seed's
    thought is not taken either."""
    from transformers import AutoTokenizer

    from harness.engines.generate import Job
    from harness.rundir import RunDir
    from harness.runner import kept_thoughts

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_text_dir))
    run_dir = RunDir(tmp_path)
    rows = [{"benchmark": "b", "id": str(n), "sample_index": 0, "seed": 5, "text": "x", "token_ids": ids,
             "finish_reason": "length", "stopped_on": None, "prompt_tokens": 2, "prompt_ids": [1, 2]}
            for n, ids in enumerate([[3, 4], [3, len(tokenizer)], [-1], [3, 4]])]
    rows[3]["seed"] = 6
    run_dir.thoughts_path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    jobs = [Job("b", str(n), 0, "p", 5) for n in range(4)]
    thoughts = kept_thoughts(run_dir, run_dir.thoughts(), jobs, tokenizer)
    assert list(thoughts) == [("b", "0", 0)] and thoughts[("b", "0", 0)].token_ids == [3, 4]
    err = capsys.readouterr().err
    assert "thoughts.jsonl: 1 kept from before, answered without thinking again" in err
    assert "thoughts.jsonl: 2 kept thoughts hold token ids outside the tokenizer's vocabulary" in err


def test_a_changed_setting_on_resume_is_one_line_naming_it(tiny_text_dir, run_dir, capsys):
    before = snapshot(run_dir)
    line = _fails(_run_argv(tiny_text_dir, run_dir, "--seed", "7"), capsys)
    assert "holds a run with different settings (seed: was 0, now 7)" in line and "use another --out" in line
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("source, data, expected_line", [
    ("{format: jsonl, file: items.jsonl}", b'{"id": "1", "question": "q", "answer": "a"}\n'
                                           b'{"id": "2", "question": "caf\xe9?", "answer": "a"}\n', 2),
    ("{format: tsv, file: items.tsv}", b"id\tquestion\tanswer\n1\tcaf\xe9?\ta\n", 2),
], ids=["jsonl", "tsv"])
def test_a_benchmark_file_that_is_not_utf8_is_one_line_naming_file_and_line(source, data, expected_line,
                                                                             tiny_text_dir, tmp_path, capsys):
    data_file = tmp_path / source.split("file: ")[1].rstrip("}")
    data_file.write_bytes(data)
    definition = tmp_path / "latin1.yaml"
    definition.write_text(f"name: latin1\nsource: {source}\ncolumns: {{id: id, question: question, answer: answer}}\n"
                          "answer_type: text\n", encoding="utf-8")
    argv = _run_argv(tiny_text_dir, tmp_path / "new", "--data-dir", str(tmp_path))
    argv[argv.index("sample")] = str(definition)
    line = _fails(argv, capsys)
    assert f"{data_file}:{expected_line}: not UTF-8 text" in line and "save the file as UTF-8" in line
    assert not (tmp_path / "new").exists()


def test_a_benchmark_definition_that_is_not_utf8_is_one_line(tiny_text_dir, tmp_path, capsys):
    definition = tmp_path / "latin1.yaml"
    definition.write_bytes(b"name: caf\xe9\n")
    argv = _run_argv(tiny_text_dir, tmp_path / "new")
    argv[argv.index("sample")] = str(definition)
    assert f"{definition}:1: not UTF-8 text" in _fails(argv, capsys)


def test_a_chat_template_cannot_run_code(tiny_text_dir, tmp_path, capsys):
    marker = tmp_path / "X"
    template = tmp_path / "evil.j2"
    template.write_text(SSTI % marker, encoding="utf-8")
    line = _fails(_run_argv(tiny_text_dir, tmp_path / "new", "--template", str(template)), capsys)
    assert f"--template {template}: cannot render (SecurityError" in line and "fix the template" in line
    assert not marker.exists()
    assert not (tmp_path / "new").exists(), "refused before the run directory is made"


def test_a_judge_prompt_cannot_run_code(run_dir, tmp_path, capsys):
    marker = tmp_path / "X"
    prompt = tmp_path / "evil_judge.j2"
    prompt.write_text(SSTI % marker, encoding="utf-8")
    before = snapshot(run_dir)
    line = _fails(["score", str(run_dir), "--judge-url", "http://127.0.0.1:9/v1", "--judge-model", "judge",
                   "--judge-policy", "always", "--judge-prompt", str(prompt)], capsys)
    assert f"judge prompt {prompt}: cannot render (SecurityError" in line
    assert not marker.exists()
    assert snapshot(run_dir) == before, "no judge cache, no verdicts, nothing rewritten"


@pytest.mark.parametrize("shipped, auto_map", [
    ("config.json", {"AutoConfig": "modeling_custom.CustomConfig", "AutoModelForCausalLM": "modeling_custom.Custom"}),
    ("tokenizer_config.json", {"AutoTokenizer": ["modeling_custom.CustomTokenizer", None]}),
    ("processor_config.json", {"AutoProcessor": "modeling_custom.CustomProcessor"}),
    ("preprocessor_config.json", {"AutoImageProcessor": "modeling_custom.CustomImageProcessor"}),
])
def test_a_checkpoint_that_ships_code_is_refused_without_trust_remote_code(shipped, auto_map, tmp_path, capsys):
    model = tmp_path / "custom-model"
    model.mkdir()
    marker = tmp_path / "X"
    (model / "modeling_custom.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    files = {"config.json": {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}}
    files[shipped] = {**files.get(shipped, {}), "auto_map": auto_map}
    for name, content in files.items():
        (model / name).write_text(json.dumps(content), encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"not weights: nothing may try to load them")
    line = _fails(_run_argv(model, tmp_path / "new"), capsys)
    assert f"{model / shipped}: auto_map" in line and "pass --trust-remote-code" in line
    assert not marker.exists() and not (tmp_path / "new").exists()


def test_an_unreadable_tokenizer_config_is_named(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "qwen2"}), encoding="utf-8")
    (model / "tokenizer_config.json").write_text("{not json", encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"not weights")
    line = _fails(_run_argv(model, tmp_path / "new"), capsys)
    assert f"cannot read {model / 'tokenizer_config.json'}" in line


@pytest.mark.parametrize("argv", [
    ["report", "{run}", "-o", "{nowhere}/report.html"],
    ["compare", "{run}", "{run}", "--html", "{nowhere}/compare.html"],
    ["leaderboard", "{run}", "-o", "{nowhere}/board.md"],
], ids=["report", "compare", "leaderboard"])
def test_an_output_that_cannot_be_written_is_one_line(argv, run_dir, tmp_path, capsys):
    nowhere = tmp_path / "no" / "such" / "directory"
    before = snapshot(run_dir)
    line = _fails([a.format(run=run_dir, nowhere=nowhere) for a in argv], capsys)
    assert str(nowhere) in line
    assert snapshot(run_dir) == before


def test_merging_a_directory_that_is_no_shard_is_one_line(run_dir, tmp_path, capsys):
    line = _fails(["merge", str(run_dir), "--out", str(tmp_path / "merged")], capsys)
    assert f"{run_dir}: not a shard (its run had no --shard)" in line


def test_fetching_an_unknown_benchmark_is_one_line(capsys):
    assert "unknown benchmark 'no_such_benchmark'" in _fails(["data", "fetch", "no_such_benchmark"], capsys)
