"""The long-tailed tiny model (tests/tiny_models.py) has the shape the throughput benchmarks rely on.

A thinking model's lengths: while it thinks, `</think>` and the end of the turn each come with a small
probability per token that does not change along the thought, so lengths spread from a few tokens to
any budget; once a `</think>` is in the context (generated, or inserted by the force policy), the answer
ends soon and no second `</think>` comes. Checked on the model's own probabilities (transformers, random
contexts it was not calibrated on) and on what the vLLM engine generates from it.
"""

from __future__ import annotations

import pytest
import torch

from tiny_models import build_long_tail_model

THINK_END, END, ANSWER_END = 1 / 64, 1 / 1024, 1 / 16


@pytest.fixture(scope="module")
def long_tail_dir(tmp_path_factory):
    return build_long_tail_model(tmp_path_factory.mktemp("long-tail"), think_end_probability=THINK_END,
                                 end_probability=END, answer_end_probability=ANSWER_END)


def test_end_probabilities_are_constant_while_thinking_and_high_after_the_thought(long_tail_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(long_tail_dir)
    tokenizer = AutoTokenizer.from_pretrained(long_tail_dir)
    think_close, eos = tokenizer.convert_tokens_to_ids("</think>"), tokenizer.convert_tokens_to_ids("<|im_end|>")
    ordinary = torch.tensor([i for i in range(len(tokenizer)) if i not in tokenizer.all_special_ids])
    contexts = ordinary[torch.randint(len(ordinary), (4, 1200), generator=torch.Generator().manual_seed(99))]
    contexts[:, 900] = think_close
    with torch.no_grad():
        probabilities = model(contexts).logits.softmax(-1)
    think, end = probabilities[..., think_close], probabilities[..., eos]
    for start, stop in ((0, 100), (400, 500), (800, 900)):  # early, middle and late in the thought alike
        assert think[:, start:stop].mean().item() == pytest.approx(THINK_END, rel=0.2)
        assert end[:, start:stop].mean().item() == pytest.approx(END, rel=0.3)
    assert end[:, 901:].mean().item() == pytest.approx(ANSWER_END, rel=0.25)
    assert think[:, 901:].max().item() < 1e-6


def test_vllm_generates_long_tailed_thoughts_and_short_answers(long_tail_dir):
    from harness.config import SamplingSettings
    from harness.engines import create_engine
    from harness.engines.generate import GenerationSettings, Job, generate

    engine = create_engine("vllm", str(long_tail_dir), dtype="float32", max_model_len=2048)
    prompt = "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n<think>\n"
    jobs = [Job("b", f"item-{n}", 0, prompt, seed=n) for n in range(300)]
    try:
        capped = generate(engine, jobs, GenerationSettings(budget=256, sampling=SamplingSettings()))
        forced = generate(engine, jobs, GenerationSettings(budget=256, budget_policy="force", answer_budget=64))
    finally:
        engine.close()
    thoughts = sorted(g.think_tokens for g in forced)
    # Geometric thoughts with mean ~64 (1 / THINK_END): from a few tokens to the budget.
    assert thoughts[0] < 8 and 30 < thoughts[len(thoughts) // 2] < 70 and thoughts[-1] == 256
    assert 0 < sum(g.forced for g in forced) < 20  # e^-4 of 300 thoughts reach the budget
    answers = sorted(g.answer_tokens for g in forced if g.answer_tokens)
    assert answers[len(answers) // 2] < 20  # about 16 tokens on average
    lengths = sorted(len(g.token_ids) for g in capped)
    assert lengths[0] < 16 and lengths[-1] == 256 and len(set(lengths)) > 100
