"""The GRPO objective (the report's eqs. 4–7) as plain tensor functions, kept apart from the loop.

Everything here takes tensors and returns tensors, with no model, optimizer or data in sight, so that
the tests can check each formula against a reference written independently and against TRL's loss.

Shapes: `[S, T]` means S sequences (responses) by T completion positions, right-padded; `mask` is 1.0
on real completion tokens and 0.0 on padding (and on whole responses that truncation masking drops).

On clipping: the ratio ρ = π_θ / π_old is exactly 1 on the first optimizer step after a rollout,
because π_old *is* π_θ at that moment. The clipped surrogate therefore only binds when one rollout
batch is split into several optimizer steps (`mini_batch_prompts` < prompts per step, or
`epochs_per_batch` > 1). The paper uses one gradient step per episode, so its clip never binds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

AGGREGATIONS = ("token_mean", "sequence_mean", "constant")


@dataclass
class LossConfig:
    """How per-token terms become one scalar.

    `clip_low`/`clip_high` bound the ratio to [1 − clip_low, 1 + clip_high]; equal values are PPO's
    symmetric clip, a larger `clip_high` is DAPO's clip-higher. `beta` weighs the k3 KL estimate to
    the frozen reference (0 = no reference model is even loaded). `aggregation`:
      token_mean     sum over all tokens of the mini-batch / number of tokens (DAPO, TRL "bnpo")
      sequence_mean  mean over tokens within each response, then mean over responses (eq. 7, TRL "grpo")
      constant       sum over all tokens / (responses × `constant_normalizer`) (Dr. GRPO, TRL "dr_grpo")
    """

    clip_low: float = 0.2
    clip_high: float = 0.2
    beta: float = 0.0
    aggregation: str = "token_mean"
    constant_normalizer: int | None = None

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"loss aggregation {self.aggregation!r} is not one of {AGGREGATIONS}")
        if self.aggregation == "constant" and not self.constant_normalizer:
            raise ValueError("loss aggregation 'constant' needs constant_normalizer (e.g. max_new_tokens)")
        if self.clip_low < 0 or self.clip_high < 0:
            raise ValueError(f"clip bounds must be >= 0, got low={self.clip_low} high={self.clip_high}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")


def group_advantages(rewards: torch.Tensor, group_size: int, std_eps: float = 1e-6) -> torch.Tensor:
    """Eq. 6: each reward minus its group's mean, over the group's (sample, n−1) std plus `std_eps`.

    `rewards` is flat, groups contiguous (prompt 0's M samples, then prompt 1's, ...). A group whose
    rewards are all equal gets advantage 0 for every member: it carries no learning signal.
    """
    if rewards.dim() != 1 or rewards.numel() % group_size != 0:
        raise ValueError(
            f"rewards must be flat with a multiple of group_size={group_size} entries, got shape {tuple(rewards.shape)}"
        )
    grouped = rewards.view(-1, group_size)
    mean = grouped.mean(dim=1, keepdim=True)
    std = grouped.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(mean)
    return ((grouped - mean) / (std + std_eps)).reshape(-1)


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(π_θ ‖ π_ref) per token: exp(r) − r − 1 with r = log π_ref − log π_θ.

    Unbiased, always >= 0, and lower variance than log-ratio alone.
    """
    log_ratio = ref_logp - logp
    return torch.exp(log_ratio) - log_ratio - 1.0


@dataclass
class LossTerms:
    """The scalar to backpropagate plus the diagnostics logged beside it (all already aggregated)."""

    loss: torch.Tensor
    policy_loss: float
    kl: float
    clip_fraction: float  # share of tokens where the clipped branch was the one taken
    clip_low_fraction: float
    clip_high_fraction: float
    ratio_mean: float


def aggregate(
    per_token: torch.Tensor,
    mask: torch.Tensor,
    config: LossConfig,
    total_tokens: float | None = None,
    total_sequences: float | None = None,
) -> torch.Tensor:
    """Reduce `[S, T]` per-token values to a scalar according to `config.aggregation`.

    With gradient accumulation, pass the whole mini-batch's `total_tokens` / `total_sequences` so
    that the sum of micro-batch losses equals the loss of the mini-batch computed at once.
    """
    mask = mask.to(per_token.dtype)
    n_sequences = float(per_token.shape[0]) if total_sequences is None else float(total_sequences)
    if config.aggregation == "token_mean":
        n_tokens = mask.sum().clamp(min=1.0) if total_tokens is None else max(float(total_tokens), 1.0)
        return (per_token * mask).sum() / n_tokens
    if config.aggregation == "sequence_mean":
        per_sequence = (per_token * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        return per_sequence.sum() / max(n_sequences, 1.0)
    return (per_token * mask).sum() / (max(n_sequences, 1.0) * float(config.constant_normalizer))


def grpo_loss(
    logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    config: LossConfig,
    ref_logp: torch.Tensor | None = None,
    total_tokens: float | None = None,
    total_sequences: float | None = None,
) -> LossTerms:
    """Eq. 7 with clip-higher, per token: −min(ρA, clip(ρ, 1−ε_low, 1+ε_high)A) + β·KL_k3, aggregated.

    `logp` carries the gradient; `old_logp` (the rollout policy) and `ref_logp` are constants.
    `advantages` is per sequence `[S]` (broadcast over tokens, as GRPO's advantage is).
    """
    if config.beta > 0 and ref_logp is None:
        raise ValueError("beta > 0 needs ref_logp (log-probabilities under the frozen reference model)")
    advantage = advantages.to(logp.dtype).unsqueeze(1)
    ratio = torch.exp(logp - old_logp.detach())
    clipped_ratio = torch.clamp(ratio, 1.0 - config.clip_low, 1.0 + config.clip_high)
    unclipped_term = ratio * advantage
    clipped_term = clipped_ratio * advantage
    per_token = -torch.min(unclipped_term, clipped_term)
    kl_per_token = torch.zeros_like(per_token)
    if config.beta > 0:
        kl_per_token = k3_kl(logp, ref_logp.detach())
        per_token = per_token + config.beta * kl_per_token
    loss = aggregate(per_token, mask, config, total_tokens, total_sequences)

    with torch.no_grad():
        real = mask.to(torch.bool)
        n_real = max(int(real.sum().item()), 1)
        took_clip = clipped_term < unclipped_term  # the min picked the clipped branch and it differs
        low = took_clip & (ratio < 1.0 - config.clip_low) & (advantage < 0)
        high = took_clip & (ratio > 1.0 + config.clip_high) & (advantage > 0)
        policy_only = -torch.min(unclipped_term, clipped_term)
        terms = LossTerms(
            loss=loss,
            policy_loss=float((policy_only * mask).sum().item() / n_real),
            kl=float((kl_per_token * mask).sum().item() / n_real),
            clip_fraction=float((took_clip & real).sum().item() / n_real),
            clip_low_fraction=float((low & real).sum().item() / n_real),
            clip_high_fraction=float((high & real).sum().item() / n_real),
            ratio_mean=float((ratio * mask).sum().item() / n_real),
        )
    return terms


def token_logprobs_and_entropy(
    logits: torch.Tensor, targets: torch.Tensor, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of each target token and the full-vocabulary entropy at that position.

    `logits[..., t, :]` must be the distribution that produced `targets[..., t]` (already shifted).
    Dividing by the sampling temperature makes these the probabilities the rollout actually used.
    Entropy is exact: H = logsumexp(z) − Σ softmax(z)·z over the whole vocabulary.
    """
    # bf16 logits are upcast: entropy over a large vocabulary loses digits otherwise.
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32)) / temperature
    log_normaliser = torch.logsumexp(logits, dim=-1)
    target_logits = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    logp = target_logits - log_normaliser
    probs = torch.softmax(logits, dim=-1)
    entropy = log_normaliser - (probs * logits).sum(dim=-1)
    return logp, entropy
