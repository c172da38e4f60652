"""What every engine needs the same way, defined once: bans as logit bias, vLLM's sampling arguments, the
device, the end-of-turn text, and whether a model can see images.

A ban is a -100 logit bias on each banned id, added before temperature and top-p, on every engine (vLLM
offline, a vLLM server, Ray's vLLM stage, transformers), so that `nowait` means the same everywhere.
"""

from __future__ import annotations

import os
from typing import Any

from harness.config import SamplingSettings

BAN_BIAS = -100.0
VISION_KEYS = ("vision_config", "vision_tower", "mm_vision_tower", "visual")


def logit_bias(sampling: SamplingSettings) -> dict[int, float] | None:
    """The ban as a logit-bias mapping (None when nothing is banned)."""
    return {int(i): BAN_BIAS for i in sampling.banned_token_ids} or None


def vllm_sampling_args(sampling: SamplingSettings) -> dict[str, Any]:
    """`SamplingSettings` as vLLM's SamplingParams arguments (the offline engine, a vLLM server, Ray's stage)."""
    return {"temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": sampling.top_k,
            "min_p": sampling.min_p, "logit_bias": logit_bias(sampling)}


def has_cuda() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def supports_batch_invariance() -> bool:
    """vLLM's batch-invariant kernels (VLLM_BATCH_INVARIANT=1) need an NVIDIA GPU of compute capability >= 8.0."""
    if not has_cuda():
        return False
    import torch

    return torch.cuda.get_device_capability()[0] >= 8


def model_config(model: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code)


def is_vision_model(config: Any) -> bool:
    """Whether a model's config (a transformers config or its dict) describes a vision tower."""
    keys = set(config) if isinstance(config, dict) else set(config.to_dict())
    return bool(keys & set(VISION_KEYS))


def end_of_turn_texts(model: str, tokenizer: Any, trust_remote_code: bool = False) -> list[str]:
    """The text of every end-of-sequence token (the tokenizer's and the generation config's)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    try:
        from transformers import GenerationConfig

        eos = GenerationConfig.from_pretrained(model, trust_remote_code=trust_remote_code).eos_token_id
        ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    except (OSError, ValueError):
        pass
    return [t for t in (tokenizer.decode([i], skip_special_tokens=False) for i in ids if i is not None) if t]


def strip_end_of_turn(text: str, eos_texts: list[str]) -> str:
    """With special tokens kept in the text (`</think>` may be one), an engine also prints the end-of-turn
    token; the harness's texts never end with it."""
    return next((text[: -len(eos)] for eos in eos_texts if eos and text.endswith(eos)), text)
