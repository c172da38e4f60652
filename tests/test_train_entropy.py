"""Critical-token entropy: exact full-vocabulary entropy, taken only where a reasoning-initiation token
(from the harness's NoWait scan) was emitted; and the checkpoint ranking built on it."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_models import build_tiny_text_model

from harness.modes import build_ban_set
from train.entropy import CheckpointEvaluation, critical_tokens_for, rank_checkpoints, spearman, teacher_forced_entropy
from train.policy import load_policy


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    return load_policy(str(build_tiny_text_model(tmp_path_factory.mktemp("entropy") / "model")))


def test_the_critical_set_is_the_nowait_ban_set(policy):
    critical = critical_tokens_for(policy.tokenizer, "paper")
    assert critical.token_ids == list(build_ban_set(policy.tokenizer, ["wait", "alternatively", "hmm"]).token_ids)
    assert critical_tokens_for(policy.tokenizer, "") is None


def test_entropy_is_measured_exactly_at_critical_positions_only(policy):
    tokenizer = policy.tokenizer
    critical = critical_tokens_for(policy.tokenizer, "paper")
    prompt = tokenizer("Let me think", add_special_tokens=False)["input_ids"]
    wait = tokenizer.encode("Wait", add_special_tokens=False)
    plain = tokenizer.encode(" the answer", add_special_tokens=False)
    response = plain + wait + plain
    report = teacher_forced_entropy(policy, [prompt], [response], critical)

    with torch.no_grad():
        logits = policy.model(torch.tensor([prompt + response])).logits[0].double()
    position = len(prompt) + len(plain) - 1  # the distribution that emitted "Wait"
    probs = torch.softmax(logits[position], dim=-1)
    expected = -float((probs * torch.log(probs)).sum())
    assert report.critical_tokens == len(wait) == 1
    assert report.critical_entropy == pytest.approx(expected, abs=1e-4)
    assert report.response_tokens == len(response)


def test_no_critical_token_gives_no_value_rather_than_zero(policy):
    critical = critical_tokens_for(policy.tokenizer, "paper")
    ids = policy.tokenizer("the answer", add_special_tokens=False)["input_ids"]
    report = teacher_forced_entropy(policy, [ids], [ids], critical)
    assert report.critical_entropy is None and report.critical_tokens == 0


def test_spearman_matches_known_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2], [1, 2]) is None
    assert math.isclose(spearman([1, 2, 3], [1, 1, 2]), 0.8660254, rel_tol=1e-6)


def checkpoint_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def test_ranking_orders_by_critical_entropy_and_shows_accuracy_beside_it():
    evaluations = [
        CheckpointEvaluation("ckpt/step-10", 40.0, 0.5, 1.2, 9, 0.8, 64),
        CheckpointEvaluation("ckpt/step-20", 55.0, 0.6, 2.5, 7, 0.7, 64),
        CheckpointEvaluation("ckpt/step-30", 30.0, 0.4, None, 0, 0.3, 64),
    ]
    ordered, table = rank_checkpoints(evaluations)
    assert [checkpoint_name(e.checkpoint) for e in ordered] == ["step-20", "step-10", "step-30"]
    assert "| 1 | step-20 | 2.5000 | 7 | 0.7000 | 55.0 |" in table
    assert "| 3 | step-30 | n/a |" in table
