"""The GRPO loss on fixed tensors equals a reference written here independently (plain Python loops),
and each loss option changes exactly what it should."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from train.loss import LossConfig, aggregate, grpo_loss, group_advantages, k3_kl, token_logprobs_and_entropy

# Three responses of unequal length (4, 2, 3 tokens); ratios chosen so some fall outside [0.8, 1.2].
LOGP = [[-1.0, -0.5, -2.0, -0.1], [-0.3, -1.5, 0.0, 0.0], [-0.7, -0.2, -1.1, 0.0]]
OLD = [[-1.3, -0.5, -1.6, -0.4], [-0.1, -1.0, 0.0, 0.0], [-0.7, -0.6, -1.0, 0.0]]
REF = [[-1.1, -0.6, -1.9, -0.2], [-0.2, -1.4, 0.0, 0.0], [-0.9, -0.3, -1.0, 0.0]]
MASK = [[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]]
ADV = [1.5, -0.7, 0.4]


def reference_loss(clip_low, clip_high, beta, aggregation, constant=None):
    """Eq. 7 token by token with the math module: no tensors, no shared code with train.loss."""
    per_sequence_sums, per_sequence_counts = [], []
    for i, row in enumerate(LOGP):
        total, count = 0.0, 0
        for t, lp in enumerate(row):
            if not MASK[i][t]:
                continue
            ratio = math.exp(lp - OLD[i][t])
            clipped = min(max(ratio, 1 - clip_low), 1 + clip_high)
            term = -min(ratio * ADV[i], clipped * ADV[i])
            if beta:
                r = REF[i][t] - lp
                term += beta * (math.exp(r) - r - 1)
            total += term
            count += 1
        per_sequence_sums.append(total)
        per_sequence_counts.append(count)
    if aggregation == "token_mean":
        return sum(per_sequence_sums) / sum(per_sequence_counts)
    if aggregation == "sequence_mean":
        return sum(s / c for s, c in zip(per_sequence_sums, per_sequence_counts)) / len(LOGP)
    return sum(per_sequence_sums) / (len(LOGP) * constant)


def ours(**kwargs):
    config = LossConfig(**kwargs)
    return grpo_loss(
        torch.tensor(LOGP, dtype=torch.float64),
        torch.tensor(OLD, dtype=torch.float64),
        torch.tensor(ADV, dtype=torch.float64),
        torch.tensor(MASK, dtype=torch.float64),
        config,
        ref_logp=torch.tensor(REF, dtype=torch.float64),
    )


@pytest.mark.parametrize("aggregation", ["token_mean", "sequence_mean", "constant"])
@pytest.mark.parametrize("clip_low,clip_high,beta", [(0.2, 0.2, 0.0), (0.2, 0.28, 0.0), (0.1, 0.3, 0.04)])
def test_loss_matches_the_independent_reference(aggregation, clip_low, clip_high, beta):
    constant = 8 if aggregation == "constant" else None
    got = ours(
        clip_low=clip_low, clip_high=clip_high, beta=beta, aggregation=aggregation, constant_normalizer=constant
    )
    want = reference_loss(clip_low, clip_high, beta, aggregation, constant)
    assert got.loss.item() == pytest.approx(want, abs=1e-12)


def test_group_advantages_are_reward_minus_group_mean_over_sample_std():
    rewards = [1.0, 0.0, 0.8, 0.2, 0.0, 0.0, 1.0, 1.0]
    got = group_advantages(torch.tensor(rewards, dtype=torch.float64), group_size=4, std_eps=1e-6).tolist()
    want = []
    for g in range(2):
        group = rewards[4 * g : 4 * g + 4]
        mean, std = statistics.mean(group), statistics.stdev(group)
        want += [(r - mean) / (std + 1e-6) for r in group]
    assert got == pytest.approx(want, abs=1e-12)


def test_a_group_with_equal_rewards_has_zero_advantage():
    got = group_advantages(torch.tensor([0.2, 0.2, 0.2, 1.0, 0.0, 1.0]), group_size=3)
    assert got[:3].tolist() == [0.0, 0.0, 0.0]
    assert got[3:].abs().sum() > 0


def test_k3_kl_is_zero_at_equal_policies_and_positive_elsewhere():
    logp = torch.tensor([-1.0, -2.0, -0.5])
    assert k3_kl(logp, logp).tolist() == [0.0, 0.0, 0.0]
    assert (k3_kl(logp, logp + torch.tensor([0.3, -0.3, 1.0])) > 0).all()


def test_clip_high_changes_the_loss_only_through_tokens_above_one_plus_clip_low():
    symmetric, higher = ours(clip_high=0.2), ours(clip_high=0.5)
    # Token (0, 0) has ratio e^0.3 = 1.35 > 1.2 with positive advantage: clip-higher lets it count more.
    assert higher.loss.item() < symmetric.loss.item()
    assert higher.clip_high_fraction < symmetric.clip_high_fraction


def test_clip_low_binds_on_negative_advantage_tokens_whose_ratio_fell():
    # Sequence 1 (advantage −0.7) has ratio e^−0.5 = 0.61 at its second token.
    loose, tight = ours(clip_low=0.5), ours(clip_low=0.2)
    assert tight.clip_low_fraction > 0
    assert loose.clip_low_fraction == 0
    assert tight.loss.item() != pytest.approx(loose.loss.item())


def test_beta_adds_the_kl_term_and_its_gradient():
    logp = torch.tensor(LOGP, requires_grad=True)
    without = grpo_loss(logp, torch.tensor(OLD), torch.tensor(ADV), torch.tensor(MASK), LossConfig(beta=0.0),
                        ref_logp=torch.tensor(REF))
    with_kl = grpo_loss(logp, torch.tensor(OLD), torch.tensor(ADV), torch.tensor(MASK), LossConfig(beta=0.1),
                        ref_logp=torch.tensor(REF))
    assert without.kl == 0.0 and with_kl.kl > 0
    (grad_without,) = torch.autograd.grad(without.loss, logp)
    (grad_with,) = torch.autograd.grad(with_kl.loss, logp)
    assert not torch.allclose(grad_without, grad_with)


def test_beta_without_reference_logprobs_is_refused():
    with pytest.raises(ValueError, match="ref_logp"):
        grpo_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1), torch.ones(1, 2), LossConfig(beta=0.1))


def test_aggregation_modes_differ_when_response_lengths_differ():
    values = {mode: ours(aggregation=mode, constant_normalizer=4).loss.item()
              for mode in ("token_mean", "sequence_mean", "constant")}
    assert len({round(v, 9) for v in values.values()}) == 3


def test_masked_positions_do_not_change_the_loss():
    logp = torch.tensor(LOGP)
    garbage = logp.clone()
    garbage[1, 2:] = 50.0  # padding of sequence 1
    a = grpo_loss(logp, torch.tensor(OLD), torch.tensor(ADV), torch.tensor(MASK), LossConfig())
    b = grpo_loss(garbage, torch.tensor(OLD), torch.tensor(ADV), torch.tensor(MASK), LossConfig())
    assert a.loss.item() == b.loss.item()


@pytest.mark.parametrize("aggregation", ["token_mean", "sequence_mean", "constant"])
def test_micro_batches_with_mini_batch_totals_sum_to_the_full_batch_loss(aggregation):
    config = LossConfig(aggregation=aggregation, constant_normalizer=4)
    logp, old, adv, mask = (torch.tensor(x, dtype=torch.float64) for x in (LOGP, OLD, ADV, MASK))
    full = grpo_loss(logp, old, adv, mask, config).loss
    totals = dict(total_tokens=mask.sum().item(), total_sequences=3)
    parts = [grpo_loss(logp[s], old[s], adv[s], mask[s], config, **totals).loss for s in (slice(0, 1), slice(1, 3))]
    assert sum(parts).item() == pytest.approx(full.item(), abs=1e-12)


def test_unknown_aggregation_is_refused_by_name():
    with pytest.raises(ValueError, match="mean_of_means"):
        LossConfig(aggregation="mean_of_means")


def test_constant_aggregation_needs_its_normaliser():
    with pytest.raises(ValueError, match="constant_normalizer"):
        LossConfig(aggregation="constant")


def test_aggregate_ignores_fully_masked_sequences_in_token_mean():
    per_token = torch.tensor([[1.0, 1.0], [100.0, 100.0]])
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert aggregate(per_token, mask, LossConfig()).item() == 1.0


def test_token_logprobs_and_entropy_are_exact_over_the_full_vocabulary():
    logits = torch.tensor([[[2.0, 0.5, -1.0, 0.0]]], dtype=torch.float64)
    logp, entropy = token_logprobs_and_entropy(logits, torch.tensor([[1]]), temperature=0.5)
    z = [v / 0.5 for v in logits[0, 0].tolist()]
    norm = math.log(sum(math.exp(v) for v in z))
    probs = [math.exp(v - norm) for v in z]
    assert logp.item() == pytest.approx(z[1] - norm, abs=1e-12)
    assert entropy.item() == pytest.approx(-sum(p * math.log(p) for p in probs), abs=1e-12)
