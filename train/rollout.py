"""Rollout engines behind one interface: sample M responses per prompt from the current policy.

`HFRolloutEngine` runs `generate` on the policy object itself (CPU, tests, small runs), so it never
needs a weight sync. The vLLM engine (`train.vllm_rollout`) holds its own copy of the weights and is
told to reload them after each optimizer step; the loop calls `sync_weights` either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from train.data import EncodedPrompt
from train.policy import Policy, stop_token_ids


@dataclass
class Completion:
    token_ids: list[int]  # the sampled tokens, the stop token included when one was produced
    text: str  # decoded without the stop token, special tokens such as </think> kept
    finish_reason: str  # "stop" or "length"


@dataclass
class SamplingSettings:
    max_new_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0


class RolloutEngine(Protocol):
    def generate(
        self, prompts: list[EncodedPrompt], n: int, settings: SamplingSettings, seed: int
    ) -> list[list[Completion]]:
        """n completions for each prompt, in prompt order."""

    def sync_weights(self, model: torch.nn.Module) -> None:
        """Make the engine sample from `model`'s current weights."""

    def sleep(self) -> None:
        """Release accelerator memory the trainer needs (no-op where nothing is held)."""

    def wake_up(self) -> None:
        """Undo `sleep` before the next `generate`."""


def finish_completion(token_ids: list[int], stop_ids: set[int], tokenizer, max_new_tokens: int) -> Completion:
    """Cut at the first stop token (kept, so the policy learns to stop) and decode the rest."""
    for index, token in enumerate(token_ids):
        if token in stop_ids:
            kept = token_ids[: index + 1]
            return Completion(kept, tokenizer.decode(kept[:-1], skip_special_tokens=False), "stop")
    kept = token_ids[:max_new_tokens]
    return Completion(kept, tokenizer.decode(kept, skip_special_tokens=False), "length")


class HFRolloutEngine:
    """transformers `generate`, batched over text prompts; prompts with images go one at a time."""

    def __init__(self, policy: Policy, batch_prompts: int = 16) -> None:
        self.policy = policy
        self.batch_prompts = batch_prompts
        self.stop_ids = stop_token_ids(policy)

    def sync_weights(self, model: torch.nn.Module) -> None:
        return None  # generates with the training model itself

    def sleep(self) -> None:
        return None

    def wake_up(self) -> None:
        return None

    @torch.no_grad()
    def generate(
        self, prompts: list[EncodedPrompt], n: int, settings: SamplingSettings, seed: int
    ) -> list[list[Completion]]:
        model = self.policy.model
        was_training = model.training
        model.eval()
        torch.manual_seed(seed)
        results: list[list[Completion]] = []
        try:
            index = 0
            while index < len(prompts):
                if prompts[index].extras:
                    chunk = [prompts[index]]
                else:
                    chunk = []
                    while (index + len(chunk) < len(prompts) and len(chunk) < self.batch_prompts
                           and not prompts[index + len(chunk)].extras):
                        chunk.append(prompts[index + len(chunk)])
                results.extend(self._generate_chunk(chunk, n, settings))
                index += len(chunk)
        finally:
            model.train(was_training)
        return results

    def _generate_chunk(self, chunk: list[EncodedPrompt], n: int, settings: SamplingSettings) -> list[list[Completion]]:
        model, tokenizer, device = self.policy.model, self.policy.tokenizer, self.policy.device
        width = max(len(p.input_ids) for p in chunk)
        pad = tokenizer.pad_token_id
        # generate continues from the right edge, so prompts are padded on the left
        input_ids = torch.tensor([[pad] * (width - len(p.input_ids)) + p.input_ids for p in chunk], device=device)
        attention_mask = torch.tensor(
            [[0] * (width - len(p.input_ids)) + [1] * len(p.input_ids) for p in chunk], device=device
        )
        extras = {k: v.to(device) for k, v in chunk[0].extras.items()} if chunk[0].extras else {}
        with self.policy.autocast():
            output = model.generate(
                input_ids=input_ids, attention_mask=attention_mask, **extras,
                do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=0,
                max_new_tokens=settings.max_new_tokens, num_return_sequences=n,
                eos_token_id=self.stop_ids, pad_token_id=pad,
            )
        generated = output[:, width:].tolist()
        completions = [finish_completion(ids, set(self.stop_ids), tokenizer, settings.max_new_tokens) for ids in generated]
        return [completions[i * n : (i + 1) * n] for i in range(len(chunk))]
