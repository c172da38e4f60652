"""`harness run` end to end on the real vLLM CPU engine: run directory, resume, refusal, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main as cli_main
from harness.config import RunConfig, build_config
from harness.rundir import RunDir, RunDirError
from harness.runner import run

REPO = Path(__file__).resolve().parent.parent


def _config(model: Path, out: Path, **overrides) -> RunConfig:
    values = dict(model=str(model), benchmarks=["sample"], mode="nowait", budget=32, samples=2, out=str(out),
                  limit=8, dtype="float32")
    values.update(overrides)
    return build_config({}, values)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_run_writes_a_complete_run_directory(tiny_vl_dir, vllm_vl_engine, tmp_path):
    out = run(_config(tiny_vl_dir, tmp_path / "run"), progress=False, engine=vllm_vl_engine)
    run_dir = RunDir(out)
    manifest = run_dir.manifest()
    assert manifest["config"]["mode"] == "nowait"
    assert manifest["ban"]["size"] > 0 and len(manifest["ban"]["sha256"]) == 64
    assert len(manifest["template"]["sha256"]) == 64
    assert manifest["benchmarks"]["sample"]["n_items"] == 8
    generations = run_dir.generations()
    assert len(generations) == 16  # 8 items x 2 samples
    assert all(len(g["token_ids"]) <= 32 for g in generations.values())
    assert len(run_dir.scores()) == 16
    summary = json.loads(run_dir.summary_path.read_text())
    block = summary["benchmarks"]["sample"]
    assert block["n_items"] == 8 and block["samples"] == 2
    assert len(block["per_sample_accuracy"]) == 2
    assert set(block["residual_keywords"]) == {"wait", "alternatively", "hmm"}
    assert summary["throughput"]["generated_tokens"] > 0
    items = run_dir.items()
    assert any(item["thumbnails"] for item in items.values()), "image items keep a thumbnail for reports"


def test_rerunning_the_same_command_generates_nothing(tiny_vl_dir, vllm_vl_engine, tmp_path):
    config = _config(tiny_vl_dir, tmp_path / "run")
    out = run(config, progress=False, engine=vllm_vl_engine)
    before = _lines(out / "generations.jsonl")

    class NoGeneration:
        tokenizer = vllm_vl_engine.tokenizer
        max_model_len = vllm_vl_engine.max_model_len

        def generate(self, *args, **kwargs):
            raise AssertionError("a finished run must not generate again")

    run(config, progress=False, engine=NoGeneration())
    assert _lines(out / "generations.jsonl") == before


def test_more_samples_later_only_adds_the_missing_ones(tiny_vl_dir, vllm_vl_engine, tmp_path):
    out = run(_config(tiny_vl_dir, tmp_path / "run", samples=1), progress=False, engine=vllm_vl_engine)
    first = _lines(out / "generations.jsonl")
    run(_config(tiny_vl_dir, tmp_path / "run", samples=2), progress=False, engine=vllm_vl_engine)
    after = _lines(out / "generations.jsonl")
    assert after[: len(first)] == first and len(after) == 2 * len(first)


def test_a_changed_setting_is_refused_by_name_and_changes_nothing(tiny_vl_dir, vllm_vl_engine, tmp_path):
    run(_config(tiny_vl_dir, tmp_path / "run"), progress=False, engine=vllm_vl_engine)
    before = {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir() if path.is_file()}
    with pytest.raises(RunDirError, match=r"budget: was 32, now 64"):
        run(_config(tiny_vl_dir, tmp_path / "run", budget=64), progress=False, engine=vllm_vl_engine)
    with pytest.raises(RunDirError, match=r"mode: was 'nowait', now 'slow'"):
        run(_config(tiny_vl_dir, tmp_path / "run", mode="slow"), progress=False, engine=vllm_vl_engine)
    with pytest.raises(RunDirError, match=r"top_k: was 0, now 20"):  # a setting added after 0.1.0 compares too
        run(_config(tiny_vl_dir, tmp_path / "run", top_k=20), progress=False, engine=vllm_vl_engine)
    after = {path.name: path.read_bytes() for path in (tmp_path / "run").iterdir() if path.is_file()}
    assert after == before


def test_text_only_model_leaves_image_items_out(tiny_text_dir, vllm_text_engine, tmp_path):
    out = run(_config(tiny_text_dir, tmp_path / "run", mode="slow"), progress=False, engine=vllm_text_engine)
    manifest = RunDir(out).manifest()
    assert manifest["benchmarks"]["sample"]["skipped_image_items"] == 4
    assert all(not item["thumbnails"] for item in RunDir(out).items().values())


def test_a_note_is_shown_once_per_process(capsys):
    from harness.runner import note

    note("sample-x: 3 image items left out (a test's own note)")
    note("sample-x: 3 image items left out (a test's own note)")
    note("sample-y: 1 image items left out (a test's own note)")
    err = capsys.readouterr().err
    assert err.count("note: sample-x") == 1 and err.count("note: sample-y") == 1


def _write_tsv(path: Path, rows: list[dict]) -> None:
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)


def _png_b64(colour: str) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _bench_file(tmp_path: Path, data_file: str) -> Path:
    spec = tmp_path / "tiny_tsv.yaml"
    spec.write_text(
        "name: tiny_tsv\nsource: {format: tsv, file: %s}\n"
        "columns: {id: index, question: question, answer: answer, images: [image], choices: [A, B]}\n"
        "answer_type: mcq\n" % data_file
    )
    return spec


def test_one_corrupt_image_marks_that_item_errored_and_the_run_goes_on(tiny_vl_dir, vllm_vl_engine, tmp_path):
    rows = [{"index": i, "question": f"Which colour? {i}", "A": "red", "B": "blue", "answer": "A",
             "image": _png_b64("red")} for i in range(3)]
    rows[1]["image"] = "iVBORw0KGgo" + "A" * 400  # a PNG header and then garbage
    _write_tsv(tmp_path / "tiny.tsv", rows)
    spec = _bench_file(tmp_path, "tiny.tsv")
    config = _config(tiny_vl_dir, tmp_path / "run", benchmarks=[str(spec)], data_dir=str(tmp_path), samples=1)
    out = run(config, progress=False, engine=vllm_vl_engine)
    block = json.loads((out / "summary.json").read_text())["benchmarks"]["tiny_tsv"]
    assert block["errors"] == 1
    assert block["n_items"] == 3
    errored = [g for g in RunDir(out).generations().values() if g["error"]]
    assert len(errored) == 1 and "row 2" in errored[0]["error"] and "image" in errored[0]["error"]


def test_missing_data_file_names_the_file_and_the_fetch_command(tmp_path, capsys):
    spec = _bench_file(tmp_path, "absent.tsv")
    code = cli_main(["run", "--bench", str(spec), "--data-dir", str(tmp_path), "--model", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert str(tmp_path / "absent.tsv") in err


def test_missing_column_names_the_definition_the_file_and_its_columns(tmp_path, capsys):
    _write_tsv(tmp_path / "tiny.tsv", [{"index": 0, "question": "q", "A": "x", "B": "y", "image": _png_b64("red")}])
    spec = _bench_file(tmp_path, "tiny.tsv")
    code = cli_main(["run", "--bench", str(spec), "--data-dir", str(tmp_path), "--model", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and f"{spec}: columns.answer names column 'answer'" in err
    assert "tiny.tsv does not have; its columns are: index, question, A, B, image" in err


@pytest.mark.parametrize("argv, message", [
    (["--model", "/nonexistent/model/dir"], "no such directory"),
    (["--mode", "nothink", "--budget-policy", "force"], "nothink has none"),
    (["--samples", "3", "--temperature", "0"], "greedy"),
    (["--budget", "0"], "--budget must be a positive integer"),
    (["--engine", "hf", "--tensor-parallel-size", "2"], "needs --engine vllm"),
    (["--bench", "no_such_benchmark"], "unknown benchmark 'no_such_benchmark'"),
    (["--judge-policy", "union"], "needs --judge-url"),
])
def test_bad_flags_are_rejected_before_any_model_loads(argv, message, capsys):
    started = time.perf_counter()
    assert cli_main(["run", *argv]) == 2
    assert message in capsys.readouterr().err
    assert time.perf_counter() - started < 10


def test_model_directory_without_config_is_rejected(tmp_path, capsys):
    (tmp_path / "weights.safetensors").write_bytes(b"")
    assert cli_main(["run", "--model", str(tmp_path)]) == 2
    assert "config.json" in capsys.readouterr().err


def test_yaml_config_with_flags_overriding(tmp_path):
    from harness.cli.run import add_run_arguments, config_from_args
    import argparse

    config_file = tmp_path / "run.yaml"
    config_file.write_text("mode: nowait\nbudget: 4096\nsamples: 5\nbench: [sample]\nkeywords: nowait17\n")
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    config = config_from_args(parser.parse_args(["--config", str(config_file), "--budget", "8192"]))
    assert (config.mode, config.budget, config.samples, config.keywords) == ("nowait", 8192, 5, "nowait17")
    assert config.sampling.temperature == 1.0 and config.budget_policy == "cap"  # the paper's defaults


def test_sigkill_mid_run_loses_nothing_finished(tiny_text_dir, tmp_path):
    """A real `harness run` process is killed with SIGKILL mid-run; the re-run completes the rest."""
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "harness", "run", "--model", str(tiny_text_dir), "--bench", "sample",
            "--mode", "slow", "--budget", "64", "--samples", "3", "--engine", "hf",
            "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    generations = out / "generations.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline:
        if generations.exists() and len(_lines(generations)) >= 6:
            break
        if process.poll() is not None:
            pytest.fail(f"run ended before it could be killed: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    survived = [json.loads(line) for line in _lines(generations) if line.strip()]
    assert 6 <= len(survived) < 60, "the kill must land mid-run"
    finished = subprocess.run(argv, env=env, capture_output=True, timeout=600)
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]
    rows = RunDir(out).generations()
    assert len(rows) == 60  # 20 text items (image items left out) x 3 samples
    for row in survived:
        kept = rows[(row["benchmark"], row["id"], row["sample_index"])]
        assert kept["token_ids"] == row["token_ids"], "finished work must be kept as it was"
    keys = [(r["benchmark"], r["id"], r["sample_index"]) for r in map(json.loads, _lines(generations))]
    assert len(keys) == len(set(keys)), "no (item, sample) generated twice"
