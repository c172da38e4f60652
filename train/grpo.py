"""The GRPO loop, top to bottom: rollouts → rewards → group advantages → clipped policy update.

One step:
  1. take `prompts_per_step` prompts; sample `samples_per_prompt` responses each (the rollout engine);
  2. score every response with the harness verifier: R = eps·accuracy + (1 − eps)·format;
  3. with dynamic sampling, drop groups whose rewards are all equal (their advantage is 0: no signal)
     and sample more prompts, at most `dynamic_sampling_max_rounds` extra rounds;
  4. advantages (r − group mean) / (group std + 1e-6), one per response, shared by its tokens;
  5. log-probs under the rollout policy (π_old) and, if beta > 0, the frozen reference;
  6. split the prompts into mini-batches (several optimizer steps per rollout batch if asked — only
     then does the ratio clip bind), accumulate micro-batch gradients, clip the gradient norm, step;
  7. sync the new weights into the rollout engine; log; checkpoint every N steps.

Simplifications, stated: advantages are per response (outcome reward, no value model); the reference
model is the starting checkpoint, never refreshed; responses cut at `max_new_tokens` keep their reward
unless `mask_truncated` removes them from the loss; prompts are drawn in a fixed shuffled order.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness.rundir import write_json_atomic
from harness.verify import RewardRecord
from train.checkpoint import save_checkpoint
from train.config import TrainConfig, config_to_dict
from train.data import EncodedPrompt, TrainItem, encode_prompt, load_items, prompt_builder
from train.entropy import CriticalTokens, critical_tokens_for
from train.errors import TrainingDiverged
from train.freeze import apply_freeze, trainable_parameters
from train.loss import grpo_loss, group_advantages
from train.metrics import MetricsLogger, StepTimer
from train.optimizer import settings_that_must_match, start_optimization
from train.policy import Policy, SequenceBatch, build_sequence_batch, load_policy, score_sequences
from train.reward import RewardFunction, harness_reward
from train.rollout import Completion, HFRolloutEngine, RolloutEngine, SamplingSettings


@dataclass
class Rollout:
    """One sampled response with everything the update needs."""

    prompt_index: int  # into RolloutBatch.prompts
    completion: Completion
    reward: RewardRecord
    advantage: float = 0.0


@dataclass
class RolloutBatch:
    prompts: list[EncodedPrompt]
    items: list[TrainItem]
    rollouts: list[Rollout]  # grouped: samples of prompt 0, then prompt 1, ...
    sampled_groups: int  # groups sampled in total, kept or dropped
    zero_variance_groups: int


class PromptStream:
    """Prompts in a seeded shuffled order, epoch after epoch; `cursor` is saved for resuming."""

    def __init__(self, items: list[TrainItem], seed: int, cursor: int = 0) -> None:
        self.items, self.seed, self.cursor = items, seed, cursor

    def take(self, count: int) -> list[TrainItem]:
        taken = []
        for _ in range(count):
            epoch, offset = divmod(self.cursor, len(self.items))
            order = list(range(len(self.items)))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            taken.append(self.items[order[offset]])
            self.cursor += 1
        return taken


class GRPOTrainer:
    def __init__(self, config: TrainConfig, reward_fn: RewardFunction | None = None,
                 engine: RolloutEngine | None = None) -> None:
        self.config = config
        self.output_dir = Path(config.output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(config.seed)
        random.seed(config.seed)
        self.policy: Policy = load_policy(config.model, config.device, config.optim.precision,
                                          config.model_trust_remote_code)
        self.freeze_report = apply_freeze(self.policy.model, config.freeze)
        self.reference: torch.nn.Module | None = None
        if config.loss.beta > 0:
            self.reference = load_policy(str(self.policy.path), config.device, config.optim.precision,
                                         config.model_trust_remote_code).model
            self.reference.requires_grad_(False).eval()
        self.items = load_items(config.data.train)
        self.validation = load_items(config.data.validation) if config.data.validation else []
        self.reward_fn = reward_fn or harness_reward(config.reward.eps, thinking=config.data.thinking)
        self.builder = prompt_builder(self.policy.path, self.policy.tokenizer, config.data.system_prompt)
        self.critical: CriticalTokens | None = critical_tokens_for(self.policy.tokenizer, config.log.critical_entropy_keywords)

        optimization = start_optimization(self.policy.model, config, config.optim.steps * self.updates_per_step())
        self.optimizer, self.scheduler = optimization.optimizer, optimization.scheduler
        resume = optimization.resume
        self.step = resume.step if resume is not None else 0
        cursor = int(resume.state.get("prompt_cursor", 0)) if resume is not None else 0
        self.last_checkpoint: Path | None = resume.path if resume is not None else None
        self.prompts = PromptStream(self.items, config.seed, cursor)
        self.engine = engine or self._make_engine()
        self.engine.sync_weights(self.policy.model)
        self.logger = MetricsLogger(self.output_dir, config.log.tensorboard, resume_step=self.step)
        write_json_atomic(self.output_dir / "config.json", config_to_dict(config))

    # --- setup helpers ---------------------------------------------------------------------------

    def updates_per_step(self) -> int:
        per_mini = self.config.optim.mini_batch_prompts or self.config.rollout.prompts_per_step
        return math.ceil(self.config.rollout.prompts_per_step / per_mini) * self.config.optim.epochs_per_batch

    def _make_engine(self) -> RolloutEngine:
        if self.config.rollout.engine == "vllm":
            from train.vllm_rollout import VLLMRolloutEngine

            return VLLMRolloutEngine(self.policy, self.config.rollout, self.config.data.max_prompt_tokens, self.config.seed)
        return HFRolloutEngine(self.policy)

    def _encode(self, items: list[TrainItem]) -> list[EncodedPrompt]:
        data = self.config.data
        return [encode_prompt(self.policy.processor, self.policy.tokenizer, self.builder, item, data.thinking,
                              data.max_prompt_tokens) for item in items]

    # --- one step --------------------------------------------------------------------------------

    def collect(self, timer: StepTimer) -> RolloutBatch:
        """Sample, score, and (with dynamic sampling) keep only groups that carry a learning signal."""
        rollout = self.config.rollout
        settings = SamplingSettings(rollout.max_new_tokens, rollout.temperature, rollout.top_p)
        kept_prompts: list[EncodedPrompt] = []
        kept_items: list[TrainItem] = []
        kept: list[Rollout] = []
        sampled = zero_variance = 0
        for round_index in range(1 + (rollout.dynamic_sampling_max_rounds if rollout.dynamic_sampling else 0)):
            need = rollout.prompts_per_step - len(kept_prompts)
            if need <= 0:
                break
            items = self.prompts.take(need)
            prompts = self._encode(items)
            with timer.phase("rollout"):
                self.engine.wake_up()
                groups = self.engine.generate(prompts, rollout.samples_per_prompt, settings,
                                              seed=self.config.seed * 100_003 + self.step * 101 + round_index)
                self.engine.sleep()
            with timer.phase("reward"):
                flat = self.reward_fn([item for item, group in zip(items, groups) for _ in group],
                                      [completion.text for group in groups for completion in group])
                for number, (item, prompt, group) in enumerate(zip(items, prompts, groups)):
                    results = flat[number * len(group) : (number + 1) * len(group)]
                    sampled += 1
                    if len({r.reward for r in results}) == 1:
                        zero_variance += 1
                        if rollout.dynamic_sampling:
                            continue
                    index = len(kept_prompts)
                    kept_prompts.append(prompt)
                    kept_items.append(item)
                    kept.extend(Rollout(index, completion, result) for completion, result in zip(group, results))
            if not rollout.dynamic_sampling:
                break
        if kept:
            rewards = torch.tensor([r.reward.reward for r in kept], dtype=torch.float64)
            for r, advantage in zip(kept, group_advantages(rewards, rollout.samples_per_prompt).tolist()):
                r.advantage = advantage
        return RolloutBatch(kept_prompts, kept_items, kept, sampled, zero_variance)

    def _sequence_batch(self, batch: RolloutBatch, indices: list[int]) -> tuple[SequenceBatch, torch.Tensor]:
        """The micro-batch's sequences and its loss mask (response tokens, minus truncated responses
        when `mask_truncated` is on; entropy statistics still see every response token)."""
        rollouts = [batch.rollouts[i] for i in indices]
        prompts = [batch.prompts[r.prompt_index] for r in rollouts]
        sequences = build_sequence_batch(
            [p.input_ids for p in prompts], [r.completion.token_ids for r in rollouts],
            self.policy.tokenizer.pad_token_id, [p.extras for p in prompts],
        )
        loss_mask = sequences.response_mask.clone()
        if self.config.rollout.mask_truncated:
            for row, r in enumerate(rollouts):
                if r.completion.finish_reason == "length":
                    loss_mask[row] = 0.0
        return sequences, loss_mask

    def _micro_batches(self, indices: list[int]) -> list[list[int]]:
        size = self.config.optim.micro_batch_size
        return [indices[i : i + size] for i in range(0, len(indices), size)]

    @torch.no_grad()
    def _constant_logprobs(self, model: torch.nn.Module, batch: RolloutBatch) -> list[torch.Tensor]:
        """Per-response log-probs (one value per response token) under a fixed model: π_old or π_ref."""
        was_training = model.training
        model.eval()
        result: list[torch.Tensor] = [torch.empty(0)] * len(batch.rollouts)
        for micro in self._micro_batches(list(range(len(batch.rollouts)))):
            sequences, _ = self._sequence_batch(batch, micro)
            logp, _ = score_sequences(self.policy, model, sequences, self.config.rollout.temperature)
            response = sequences.response_mask.bool().to(logp.device)
            for row, index in enumerate(micro):
                result[index] = logp[row][response[row]]
        model.train(was_training)
        return result

    def update(self, batch: RolloutBatch, timer: StepTimer) -> dict[str, float]:
        """Mini-batched clipped-surrogate updates on one rollout batch; returns the step's diagnostics."""
        config, model = self.config, self.policy.model
        group = config.rollout.samples_per_prompt
        n_prompts = len(batch.prompts)
        per_mini = config.optim.mini_batch_prompts or config.rollout.prompts_per_step
        several_updates = self.updates_per_step() > 1 or n_prompts > per_mini
        old_logp = None
        if several_updates:
            # π_old must be frozen before the first update changes the weights
            with timer.phase("policy"):
                old_logp = self._constant_logprobs(model, batch)
        ref_logp = None
        if self.reference is not None:
            with timer.phase("reference"):
                ref_logp = self._constant_logprobs(self.reference, batch)

        sums: dict[str, float] = {"loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "clip_low_fraction": 0.0,
                                  "clip_high_fraction": 0.0, "ratio_mean": 0.0}
        entropy_sum = entropy_count = 0.0
        critical_sum = critical_count = 0.0
        grad_norms: list[float] = []
        n_micro = 0
        model.train()
        for epoch in range(config.optim.epochs_per_batch):
            for start in range(0, n_prompts, per_mini):
                prompt_ids = range(start, min(start + per_mini, n_prompts))
                indices = [p * group + k for p in prompt_ids for k in range(group)]
                total_tokens = float(sum(self._loss_tokens(batch, i) for i in indices))
                for micro in self._micro_batches(indices):
                    sequences, loss_mask = self._sequence_batch(batch, micro)
                    with timer.phase("policy"):
                        logp, entropy = score_sequences(self.policy, model, sequences, config.rollout.temperature)
                    with timer.phase("backward"):
                        terms = self._micro_loss(batch, micro, sequences, loss_mask, logp, old_logp, ref_logp,
                                                 total_tokens, len(indices))
                        if not torch.isfinite(terms.loss):
                            raise TrainingDiverged(f"step {self.step + 1}: loss is {terms.loss.item()}")
                        terms.loss.backward()
                    n_micro += 1
                    for key in sums:
                        sums[key] += float(terms.loss.item()) if key == "loss" else getattr(terms, key)
                    if epoch == 0:
                        live = sequences.response_mask.bool().to(logp.device)
                        entropy_sum += float(entropy[live].sum().item())
                        entropy_count += float(live.sum().item())
                        if self.critical is not None:
                            hits = live & self.critical.mask_for(sequences.input_ids[:, 1:].to(logp.device))
                            critical_sum += float(entropy[hits].sum().item())
                            critical_count += float(hits.sum().item())
                with timer.phase("backward"):
                    norm = torch.nn.utils.clip_grad_norm_(trainable_parameters(model), config.optim.max_grad_norm)
                    if not torch.isfinite(norm):
                        self.optimizer.zero_grad(set_to_none=True)
                        raise TrainingDiverged(f"step {self.step + 1}: gradient norm is {norm.item()}")
                    grad_norms.append(float(norm.item()))
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
        metrics = {key: value / max(n_micro, 1) for key, value in sums.items() if key != "loss"}
        metrics["loss"] = sums["loss"] / max(self.updates_per_step(), 1)
        metrics["grad_norm"] = statistics.mean(grad_norms) if grad_norms else 0.0
        metrics["entropy"] = entropy_sum / entropy_count if entropy_count else float("nan")
        metrics["critical_entropy"] = critical_sum / critical_count if critical_count else float("nan")
        metrics["critical_tokens"] = int(critical_count)
        metrics["optimizer_steps"] = len(grad_norms)
        return metrics

    def _loss_tokens(self, batch: RolloutBatch, index: int) -> int:
        rollout = batch.rollouts[index]
        if self.config.rollout.mask_truncated and rollout.completion.finish_reason == "length":
            return 0
        return len(rollout.completion.token_ids)

    def _micro_loss(self, batch, micro, sequences, loss_mask, logp, old_logp, ref_logp, total_tokens, total_sequences):
        device = logp.device
        response = sequences.response_mask.bool().to(device)
        # on the first (or only) update π_old is the current policy: its log-probs are ours, detached
        old = logp.detach().clone()
        ref = None if ref_logp is None else torch.zeros_like(logp)
        for row, index in enumerate(micro):
            if old_logp is not None:
                old[row][response[row]] = old_logp[index].to(device)
            if ref is not None:
                ref[row][response[row]] = ref_logp[index].to(device)
        advantages = torch.tensor([batch.rollouts[i].advantage for i in micro], device=device)
        return grpo_loss(logp, old, advantages, loss_mask.to(device), self.config.loss, ref_logp=ref,
                         total_tokens=total_tokens, total_sequences=total_sequences)

    # --- the run ---------------------------------------------------------------------------------

    def save(self) -> Path:
        state = {"prompt_cursor": self.prompts.cursor, "comparable": settings_that_must_match(self.config),
                 "stage": "grpo"}
        self.last_checkpoint = save_checkpoint(
            self.output_dir, self.step, self.policy.model, self.policy.tokenizer, self.policy.processor,
            self.optimizer, self.scheduler, state, keep_last=self.config.checkpoint.keep_last,
        )
        return self.last_checkpoint

    def train_step(self) -> dict[str, Any]:
        timer = StepTimer()
        started = time.perf_counter()
        batch = self.collect(timer)
        rewards = [r.reward for r in batch.rollouts]
        lengths = [len(r.completion.token_ids) for r in batch.rollouts]
        row: dict[str, Any] = {
            "step": self.step + 1,
            "groups": len(batch.prompts),
            "zero_variance_fraction": batch.zero_variance_groups / max(batch.sampled_groups, 1),
            "sampled_groups": batch.sampled_groups,
        }
        if batch.rollouts:
            row.update({
                # plain formulas: statistics.pstdev fails on NaN, and a NaN reward must reach the loss check
                "reward_mean": sum(r.reward for r in rewards) / len(rewards),
                "reward_std": math.sqrt(sum((r.reward - sum(x.reward for x in rewards) / len(rewards)) ** 2
                                            for r in rewards) / len(rewards)),
                "accuracy": statistics.mean(r.accuracy for r in rewards),
                "format_rate": statistics.mean(float(r.format_ok) for r in rewards),
                # undecided verdicts (a verification timeout, a judge error) earn no accuracy: shown apart
                # so that a verifier that cannot keep up is not mistaken for a policy that got worse
                "undecided_fraction": statistics.mean(r.verdict is not None and r.verdict.correct is None
                                                      for r in rewards),
                "response_length": statistics.mean(lengths),
                "truncated_fraction": statistics.mean(r.completion.finish_reason == "length" for r in batch.rollouts),
            })
            row.update(self.update(batch, timer))
            with timer.phase("sync"):
                self.engine.sync_weights(self.policy.model)
        else:
            row["skipped"] = "no group with reward variance after dynamic sampling"
        self.step += 1
        row["lr"] = self.scheduler.get_last_lr()[0]
        row.update(timer.as_metrics())
        row["time_step"] = round(time.perf_counter() - started, 4)
        return row

    def train(self) -> Path:
        """Run to `optim.steps`; returns the last checkpoint. Raises TrainingDiverged on NaN/inf."""
        config = self.config
        progress = None
        if config.log.progress:
            from tqdm import tqdm

            progress = tqdm(total=config.optim.steps, initial=self.step, desc="grpo", dynamic_ncols=True)
        try:
            while self.step < config.optim.steps:
                try:
                    row = self.train_step()
                except TrainingDiverged as error:
                    where = self.last_checkpoint or "none yet (no checkpoint was written before it)"
                    self.logger.log({"step": self.step + 1, "event": "diverged", "reason": str(error),
                                     "last_good_checkpoint": str(where)})
                    raise TrainingDiverged(f"{error}; stopped, last good checkpoint: {where}") from None
                self.logger.log(row)
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix(reward=f"{row.get('reward_mean', float('nan')):.3f}",
                                         acc=f"{row.get('accuracy', float('nan')):.2f}")
                if self.step % config.checkpoint.every_steps == 0 or self.step == config.optim.steps:
                    self.save()
        finally:
            if progress is not None:
                progress.close()
            self.logger.close()
        return self.last_checkpoint


def run_grpo(config: TrainConfig, reward_fn: RewardFunction | None = None) -> Path:
    return GRPOTrainer(config, reward_fn).train()
