"""Shared test fixtures for sweeps, the server engine and scale-out: one tiny model, one vLLM engine.

vLLM keeps process-wide state, so every test in a session shares one in-process engine per model
(started with the fast CPU settings: no engine subprocess, one thread, eager, float32).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FAST_VLLM_ENV = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "OMP_NUM_THREADS": "1",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
for _key, _value in FAST_VLLM_ENV.items():
    os.environ.setdefault(_key, _value)

_MODELS: dict[str, Path] = {}
_ENGINES: dict[str, Any] = {}


def tiny_text_model(root: Path) -> Path:
    """The tiny Qwen2 model, built once per session under `root`."""
    if "text" not in _MODELS:
        from tests.tiny_models import build_tiny_text_model

        _MODELS["text"] = build_tiny_text_model(root / "tiny-text")
    return _MODELS["text"]


def vllm_engine(model_dir: Path) -> Any:
    """One in-process vLLM engine per model directory for the whole session."""
    key = str(model_dir)
    if key not in _ENGINES:
        from harness.engines.vllm_engine import VLLMEngine

        _ENGINES[key] = VLLMEngine(str(model_dir), dtype="float32", seed=0, max_model_len=1024)
    return _ENGINES[key]
