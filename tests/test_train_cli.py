"""`python -m train` and what a user can get wrong: each mistake is one line on stderr that names what,
where and what to do, with exit status 2 and no traceback; and a checkpoint's own Python code runs only
with the explicit `model_trust_remote_code` opt-in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from train_fixtures import ROOT, SETTINGS, error_lines

from train.__main__ import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def write_lines(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


ROW = json.dumps({"question": "What is 1 + 1?", "answer": "2", "response": "1 + 1 = 2</think> \\boxed{2}"})
MISTAKES = {
    # name: (the arguments after the stage, from the stage's settings, the model and a fresh directory;
    #        fragments the error line must name)
    "missing config file": (lambda s, m, t: ["--config", str(t / "nope.yaml")], ["nope.yaml", "does not exist"]),
    "config that is not YAML": (lambda s, m, t: ["--config", write_lines(t / "c.yaml", ["optim: [1,"])],
                                ["c.yaml", "not valid YAML: line 2, column 1"]),
    "override that is not YAML": (lambda s, m, t: ["--config", os.devnull, *s(m, t / "run", "optim.lr=[")],
                                  ["optim.lr=[", "not valid YAML"]),
    "zero batch size": (lambda s, m, t: ["--config", os.devnull, *s(m, t / "run", "optim.batch_size=0")],
                        ["optim.batch_size", "at least 1"]),
    "model directory without config.json": (lambda s, m, t: ["--config", os.devnull, *s(t, t / "run")],
                                            ["no config.json", "model"]),
    "missing data file": (
        lambda s, m, t: ["--config", os.devnull, *s(m, t / "run", f"data.train={t / 'absent.jsonl'}")],
        ["absent.jsonl", "does not exist"]),
    "bad data row": (
        lambda s, m, t: ["--config", os.devnull,
                         *s(m, t / "run", "data.train=" + write_lines(t / "d.jsonl", [ROW, '{"answer": 2}']))],
        ["d.jsonl:2", "'question'"]),
    "prompt over the token limit": (
        lambda s, m, t: ["--config", os.devnull, *s(m, t / "run", "data.max_prompt_tokens=4")],
        ["data.max_prompt_tokens=4", "synthetic:arithmetic", "raise"]),
    "unknown schedule": (lambda s, m, t: ["--config", os.devnull, *s(m, t / "run", "optim.schedule=zigzag")],
                         ["optim.schedule 'zigzag'", "'cosine'"]),
    "freeze that trains nothing on a text model": (
        lambda s, m, t: ["--config", os.devnull, *s(m, t / "run", "freeze.train_llm=false")],
        ["freeze", "freeze.train_llm=true"]),
}


@pytest.mark.parametrize("stage", ["grpo", "sft"])
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_a_user_mistake_is_one_line_and_exit_status_2(tiny_text_dir, tmp_path, capsys, stage, mistake):
    arguments, fragments = MISTAKES[mistake]
    code = main([stage, *arguments(SETTINGS[stage], tiny_text_dir, tmp_path)])
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert code == 2 and len(lines) == 1, captured.err[-2000:]
    assert all(fragment in lines[0] for fragment in fragments), lines[0]


@pytest.mark.parametrize("arguments, fragment", [
    (["rank", "CHECKPOINT", "--validation", "absent.jsonl"], "absent.jsonl does not exist"),
    (["rank", "NOT_A_MODEL", "--validation", "synthetic:arithmetic?n=2"], "no config.json"),
    (["data", "synthetic:geometry", "--out", "rows.jsonl"], "unknown synthetic task 'geometry'"),
])
def test_the_rank_and_data_commands_report_mistakes_in_one_line(tiny_text_dir, tmp_path, capsys, arguments, fragment):
    replaced = {"CHECKPOINT": str(tiny_text_dir), "NOT_A_MODEL": str(tmp_path),
                "rows.jsonl": str(tmp_path / "rows.jsonl")}
    assert main([replaced.get(a, a) for a in arguments]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and fragment in lines[0]


# --- a checkpoint's own code -------------------------------------------------------------------

CUSTOM_CONFIG = """
from pathlib import Path

from transformers import Qwen2Config

Path({marker!r}).write_text("the checkpoint's code ran")


class TinyCustomConfig(Qwen2Config):
    model_type = "tiny_custom"
"""

CUSTOM_MODEL = """
from transformers import Qwen2ForCausalLM

from .configuration_tiny import TinyCustomConfig


class TinyCustomForCausalLM(Qwen2ForCausalLM):
    config_class = TinyCustomConfig
"""


def model_with_its_own_code(model_dir: Path, directory: Path, marker: Path) -> Path:
    """The tiny model, re-declared as an architecture that only the directory's own Python defines."""
    shutil.copytree(model_dir, directory)
    (directory / "configuration_tiny.py").write_text(CUSTOM_CONFIG.format(marker=str(marker)))
    (directory / "modeling_tiny.py").write_text(CUSTOM_MODEL)
    config = json.loads((directory / "config.json").read_text())
    config.update(model_type="tiny_custom", architectures=["TinyCustomForCausalLM"],
                  auto_map={"AutoConfig": "configuration_tiny.TinyCustomConfig",
                            "AutoModelForCausalLM": "modeling_tiny.TinyCustomForCausalLM"})
    (directory / "config.json").write_text(json.dumps(config))
    return directory


def run_train(arguments: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    # transformers copies a model's own code into its modules cache before importing it: keep that in tmp
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "modules")}
    return subprocess.run([sys.executable, "-m", "train", *arguments], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=600)


def test_a_checkpoints_own_code_does_not_run_by_default(tiny_text_dir, tmp_path):
    marker = tmp_path / "code-ran"
    custom = model_with_its_own_code(tiny_text_dir, tmp_path / "custom", marker)
    result = run_train(["sft", "--config", os.devnull, *SETTINGS["sft"](custom, tmp_path / "run")], tmp_path)
    lines = error_lines(result.stderr)
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "model_trust_remote_code=true" in lines[0] and str(custom) in lines[0]
    assert not marker.exists()


def test_the_trust_remote_code_opt_in_reaches_the_model_loads(tiny_text_dir, tmp_path):
    marker = tmp_path / "code-ran"
    custom = model_with_its_own_code(tiny_text_dir, tmp_path / "custom", marker)
    result = run_train(["sft", "--config", os.devnull,
                        *SETTINGS["sft"](custom, tmp_path / "run", "model_trust_remote_code=true")], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert marker.exists()
    assert "done: " in result.stdout
