"""Critical-token entropy (the report's §5.1): how undecided the model is where it starts reasoning.

At every position where the model emits a reasoning-initiation token ("Wait", "Alternatively", ...),
take the entropy of the full next-token distribution that produced it, computed exactly from logits,
and average. The token set is built from the tokenizer by `harness.modes.build_ban_set`, the very scan
NoWait mode uses to ban those tokens, so "critical token" means the same thing in both places.

The report uses this to pick checkpoints: a model that reasons keeps high entropy at these points; one
that imitates the style becomes deterministic there. `rank_checkpoints` puts it beside validation
accuracy for each checkpoint so the two can be compared.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from train.errors import SetupError


@dataclass
class CriticalTokens:
    token_ids: list[int]
    keywords: list[str]
    sha256: str

    def mask_for(self, targets: torch.Tensor) -> torch.Tensor:
        """True where the target token (the one emitted) is a critical token."""
        ids = torch.tensor(self.token_ids, dtype=targets.dtype, device=targets.device)
        return torch.isin(targets, ids)


def critical_tokens_for(tokenizer: Any, preset_or_keywords: str) -> CriticalTokens | None:
    """Build the set from a `harness.modes.KEYWORD_PRESETS` name or a comma-separated keyword list.

    An empty string turns the metric off.
    """
    if not preset_or_keywords:
        return None
    from harness.modes import build_ban_set, resolve_keywords

    keywords = resolve_keywords(preset_or_keywords)
    ban_set = build_ban_set(tokenizer, keywords)
    return CriticalTokens(token_ids=list(ban_set.token_ids), keywords=keywords, sha256=ban_set.sha256)


@dataclass
class EntropyReport:
    """Critical-token entropy and, for context, the mean entropy over all response tokens."""

    critical_entropy: float | None  # None when no critical token was emitted at all
    critical_tokens: int
    mean_entropy: float | None
    response_tokens: int


@torch.no_grad()
def teacher_forced_entropy(policy: Any, prompts: list[list[int]], responses: list[list[int]],
                           critical: CriticalTokens, batch_size: int = 8) -> EntropyReport:
    """Run the model over saved prompt+response token ids and measure entropy where it matters."""
    from train.policy import build_sequence_batch, score_sequences

    model = policy.model
    was_training = model.training
    model.eval()
    critical_sum = all_sum = 0.0
    critical_count = all_count = 0
    for start in range(0, len(prompts), batch_size):
        batch = build_sequence_batch(prompts[start : start + batch_size], responses[start : start + batch_size],
                                     policy.tokenizer.pad_token_id)
        _, entropy = score_sequences(policy, model, batch)
        response = batch.response_mask.bool().to(entropy.device)
        hits = response & critical.mask_for(batch.input_ids[:, 1:].to(entropy.device))
        critical_sum += float(entropy[hits].sum().item())
        critical_count += int(hits.sum().item())
        all_sum += float(entropy[response].sum().item())
        all_count += int(response.sum().item())
    model.train(was_training)
    return EntropyReport(
        critical_entropy=critical_sum / critical_count if critical_count else None,
        critical_tokens=critical_count,
        mean_entropy=all_sum / all_count if all_count else None,
        response_tokens=all_count,
    )


@dataclass
class CheckpointEvaluation:
    checkpoint: str
    accuracy: float  # percent over validation responses
    reward_mean: float
    critical_entropy: float | None
    critical_tokens: int
    mean_entropy: float | None
    responses: int


def evaluate_checkpoint(path: Path, validation: list[Any], samples: int, max_new_tokens: int,
                        keywords: str = "paper", data_config: Any = None, seed: int = 0,
                        temperature: float = 1.0, eps: float = 0.8,
                        trust_remote_code: bool = False) -> CheckpointEvaluation:
    """Sample validation responses from the checkpoint, score them, and measure their entropy.

    `trust_remote_code` lets a checkpoint that ships its own Python code run it (off unless asked)."""
    from train.config import DataConfig
    from train.data import encode_prompt, prompt_builder
    from train.policy import load_policy
    from train.reward import harness_reward
    from train.rollout import HFRolloutEngine, SamplingSettings

    data = data_config or DataConfig()
    policy = load_policy(str(path), trust_remote_code=trust_remote_code)
    critical = critical_tokens_for(policy.tokenizer, keywords)
    if critical is None:
        raise SetupError("critical-token entropy needs keywords: give --keywords a preset name such as 'paper', "
                         "or a comma-separated list")
    builder = prompt_builder(policy.path, policy.tokenizer, data.system_prompt)
    prompts = [encode_prompt(policy.processor, policy.tokenizer, builder, item, data.thinking, data.max_prompt_tokens)
               for item in validation]
    groups = HFRolloutEngine(policy).generate(prompts, samples, SamplingSettings(max_new_tokens, temperature), seed)
    reward = harness_reward(eps, thinking=data.thinking)
    results = reward([item for item, group in zip(validation, groups) for _ in group],
                     [c.text for group in groups for c in group])
    prompt_ids = [p.input_ids for p, group in zip(prompts, groups) for _ in group]
    response_ids = [c.token_ids for group in groups for c in group]
    report = teacher_forced_entropy(policy, prompt_ids, response_ids, critical)
    return CheckpointEvaluation(
        checkpoint=str(path), accuracy=100.0 * statistics.mean(r.accuracy for r in results),
        reward_mean=statistics.mean(r.reward for r in results), critical_entropy=report.critical_entropy,
        critical_tokens=report.critical_tokens, mean_entropy=report.mean_entropy, responses=len(results),
    )


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Rank correlation (average ranks for ties); None with fewer than 3 points or a constant series."""
    if len(xs) < 3:
        return None

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        result = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                result[order[k]] = (i + j) / 2.0
            i = j + 1
        return result

    rx, ry = ranks(xs), ranks(ys)
    if len(set(rx)) == 1 or len(set(ry)) == 1:
        return None
    return statistics.correlation(rx, ry)


def rank_checkpoints(evaluations: list[CheckpointEvaluation]) -> tuple[list[CheckpointEvaluation], str]:
    """Checkpoints ordered by critical-token entropy (highest first) and a markdown table beside accuracy."""
    ordered = sorted(evaluations, key=lambda e: -1e30 if e.critical_entropy is None else e.critical_entropy,
                     reverse=True)
    lines = ["| rank | checkpoint | critical-token entropy | critical tokens | mean entropy | val. accuracy (%) |",
             "|---:|---|---:|---:|---:|---:|"]
    for rank, e in enumerate(ordered, start=1):
        critical = "n/a" if e.critical_entropy is None else f"{e.critical_entropy:.4f}"
        mean = "n/a" if e.mean_entropy is None else f"{e.mean_entropy:.4f}"
        lines.append(f"| {rank} | {Path(e.checkpoint).name} | {critical} | {e.critical_tokens} | {mean} | {e.accuracy:.1f} |")
    measured = [e for e in evaluations if e.critical_entropy is not None]
    rho = spearman([e.critical_entropy for e in measured], [e.accuracy for e in measured])
    lines.append("")
    lines.append(f"Spearman rank correlation (critical-token entropy vs accuracy): {'n/a' if rho is None else f'{rho:.3f}'}")
    return ordered, "\n".join(lines)


def write_rank_report(evaluations: list[CheckpointEvaluation], path: Path) -> str:
    ordered, table = rank_checkpoints(evaluations)
    path.write_text(json.dumps([asdict(e) for e in ordered], indent=2))
    return table
