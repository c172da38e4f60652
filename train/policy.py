"""Loading a policy (text LM or VLM) and scoring token sequences under it.

Both the GRPO loss and critical-token entropy need the same thing from a model: for each response
token, its log-probability and the full-vocabulary entropy of the distribution it was drawn from.
`score_sequences` is that one computation, shared so the two can never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from harness.engines.common import is_vision_model

from train.errors import SetupError
from train.loss import token_logprobs_and_entropy


@dataclass
class Policy:
    model: torch.nn.Module
    tokenizer: Any
    processor: Any  # None for text-only models
    path: Path
    device: torch.device
    autocast_dtype: torch.dtype | None  # bf16 autocast on GPU; None = full fp32
    trust_remote_code: bool = False  # the opt-in it was loaded with; engines built from it load the same way

    def autocast(self):
        if self.autocast_dtype is None:
            return torch.autocast(device_type=self.device.type, enabled=False)
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)


def resolve_model_path(spec: str) -> Path:
    """A model directory, or "smollm2" for the harness's converted SmolLM2-135M-Instruct."""
    if spec == "smollm2":
        from harness.engines.models import ensure_default_model

        return Path(ensure_default_model())
    path = Path(spec)
    if not (path / "config.json").exists():
        raise SetupError(f"model {spec!r}: no config.json there; set model to a HF model directory or 'smollm2'")
    return path


def pick_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(spec)


def load_policy(spec: str, device: str = "auto", precision: str = "auto", trust_remote_code: bool = False) -> Policy:
    """Weights in fp32 (the optimizer's master copy); bf16 only as autocast on GPU.

    `trust_remote_code` is passed to every load: without it, a checkpoint's own Python code never runs.
    """
    import transformers

    path = resolve_model_path(spec)
    torch_device = pick_device(device)
    trust = {"trust_remote_code": trust_remote_code}
    try:
        config = transformers.AutoConfig.from_pretrained(path, **trust)
        is_vision = is_vision_model(config)
        model_class = transformers.AutoModelForImageTextToText if is_vision else transformers.AutoModelForCausalLM
        model = model_class.from_pretrained(path, dtype=torch.float32, **trust).to(torch_device)
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, **trust)
        processor = transformers.AutoProcessor.from_pretrained(path, **trust) if is_vision else None
    except (OSError, ValueError, KeyError) as error:
        raise SetupError(_load_failure(path, error, trust_remote_code)) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    use_bf16 = precision == "bf16" or (precision == "auto" and torch_device.type == "cuda")
    return Policy(model, tokenizer, processor, path, torch_device, torch.bfloat16 if use_bf16 else None,
                  trust_remote_code)


def _ships_code(path: Path) -> bool:
    """Whether the directory's config or tokenizer config points at Python files of its own."""
    for name in ("config.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json"):
        try:
            if "auto_map" in json.loads((path / name).read_text(encoding="utf-8")):
                return True
        except (OSError, ValueError, TypeError):
            continue
    return False


def _load_failure(path: Path, error: Exception, trust_remote_code: bool) -> str:
    """One line for a model directory transformers cannot load, with what to do about it."""
    if not trust_remote_code and _ships_code(path):
        return (f"model {path} ships its own Python code (auto_map in its config), which would run on loading; "
                "set model_trust_remote_code=true only if you trust that checkpoint")
    reason = " ".join(str(error).split())
    return f"model {path} cannot be loaded ({reason[:300]}); check that it is a complete HF model directory"


def stop_token_ids(policy: Policy) -> list[int]:
    """Token ids that end a response: the generation config's eos ids and the tokenizer's eos."""
    ids: list[int] = []
    configured = getattr(policy.model.generation_config, "eos_token_id", None)
    for value in configured if isinstance(configured, list) else [configured]:
        if value is not None:
            ids.append(int(value))
    if policy.tokenizer.eos_token_id is not None:
        ids.append(int(policy.tokenizer.eos_token_id))
    im_end = policy.tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != policy.tokenizer.unk_token_id:
        ids.append(im_end)
    return sorted(set(ids))


@dataclass
class SequenceBatch:
    """Right-padded prompt+response sequences; `response_mask` marks response tokens (in target space)."""

    input_ids: torch.Tensor  # [S, L]
    attention_mask: torch.Tensor  # [S, L]
    response_mask: torch.Tensor  # [S, L-1]: 1 where target token t+1 is a response token
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


def build_sequence_batch(
    prompts: list[list[int]], responses: list[list[int]], pad_id: int,
    extras: list[dict[str, torch.Tensor]] | None = None,
) -> SequenceBatch:
    """Concatenate each prompt with its response, right-pad, and record where the response sits.

    Image tensors of each sequence are concatenated along dim 0 in sequence order, which is how
    Qwen-VL and LLaVA-style models take a batch of images.
    """
    lengths = [len(p) + len(r) for p, r in zip(prompts, responses)]
    width = max(lengths)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    response_mask = torch.zeros((len(prompts), width - 1), dtype=torch.float32)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        sequence = prompt + response
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
        # target index t holds token t+1, so response tokens start at len(prompt) - 1
        response_mask[row, len(prompt) - 1 : len(sequence) - 1] = 1.0
    joined: dict[str, torch.Tensor] = {}
    if extras and any(extras):
        for key in extras[0]:
            joined[key] = torch.cat([e[key] for e in extras], dim=0)
    return SequenceBatch(input_ids, attention_mask, response_mask, joined)


def score_sequences(
    policy: Policy, model: torch.nn.Module, batch: SequenceBatch, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per target position: log-probability of the actual next token and the distribution's entropy.

    Both are `[S, L-1]`; only positions where `batch.response_mask` is 1 are meaningful.
    """
    device = policy.device
    extras = {k: v.to(device) for k, v in batch.extras.items()}
    with policy.autocast():
        logits = model(
            input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device), **extras
        ).logits
    targets = batch.input_ids[:, 1:].to(device)
    return token_logprobs_and_entropy(logits[:, :-1], targets, temperature)
