"""The transformers engine: `generate`, one request at a time. The reference, and the CPU fallback.

It applies bans the way the vLLM engine does (a -100 logit bias on each banned id, added before
temperature, top-k, top-p and min-p), honours stop strings by keeping them in the output, and seeds each
request on its own, so tests can hold both engines to the same mode semantics. Its stream yields each
request as it finishes, one at a time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Hashable, Iterator

import torch

from harness.config import SamplingSettings
from harness.engines import Engine, EngineOutput, EngineRequest, Feed
from harness.engines.common import BAN_BIAS, is_vision_model, model_config


class _BanBias:
    """A logits processor adding BAN_BIAS to banned ids (transformers calls it as f(input_ids, scores))."""

    def __init__(self, banned: tuple[int, ...]):
        self.banned = torch.tensor(banned, dtype=torch.long)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores[:, self.banned] += BAN_BIAS
        return scores


class HFEngine(Engine):
    name = "hf"

    def __init__(self, model: str, dtype: str = "auto", device: str | None = None, trust_remote_code: bool = False,
                 **_: Any):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        config = model_config(model, trust_remote_code)
        torch_dtype = torch.float32 if dtype in ("auto", "float32") and self.device == "cpu" else (
            getattr(torch, dtype) if dtype != "auto" else "auto")
        self.is_vision = is_vision_model(config)
        self.processor = None
        if self.is_vision:
            from transformers import AutoModelForImageTextToText

            self.model = AutoModelForImageTextToText.from_pretrained(model, dtype=torch_dtype,
                                                                     trust_remote_code=trust_remote_code)
            self.processor = _load_image_processor(model, trust_remote_code)
        else:
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype, trust_remote_code=trust_remote_code)
        self.model.to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
        self.max_model_len = int(getattr(config, "max_position_embeddings", 0)
                                 or getattr(getattr(config, "text_config", None), "max_position_embeddings", 4096))
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if self.tokenizer.eos_token_id is not None:
            self.eos_ids.add(self.tokenizer.eos_token_id)

    def _inputs(self, request: EngineRequest) -> dict[str, torch.Tensor]:
        if request.images:
            if self.processor is None:
                raise ValueError("this model has no image processor, but the request carries images")
            return _qwen_vl_inputs(self.tokenizer, self.processor, request.prompt, request.images)
        if request.prompt_ids is not None:
            ids = torch.tensor([request.prompt_ids])
            return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        return self.tokenizer(request.prompt, return_tensors="pt", add_special_tokens=False)

    def stream(self, feed: Feed, sampling: SamplingSettings) -> Iterator[tuple[Hashable, EngineOutput]]:
        while (item := feed.pull()) is not None:
            yield item[0], self._generate_one(item[1], sampling)

    @torch.no_grad()
    def _generate_one(self, request: EngineRequest, sampling: SamplingSettings) -> EngineOutput:
        processors = [_BanBias(sampling.banned_token_ids)] if sampling.banned_token_ids else []
        inputs = {k: v.to(self.device) for k, v in self._inputs(request).items()}
        prompt_len = inputs["input_ids"].shape[1]
        torch.manual_seed(request.seed)
        greedy = sampling.greedy
        generated = self.model.generate(
            **inputs,
            max_new_tokens=max(1, min(request.max_tokens, self.max_model_len - prompt_len)),
            do_sample=not greedy,
            temperature=None if greedy else sampling.temperature,
            top_p=None if greedy else sampling.top_p,
            top_k=None if greedy or not sampling.top_k else sampling.top_k,
            min_p=None if greedy or not sampling.min_p else sampling.min_p,
            logits_processor=processors,
            stop_strings=request.stop or None,
            tokenizer=self.tokenizer if request.stop else None,
            eos_token_id=sorted(self.eos_ids),
            pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else sorted(self.eos_ids)[0],
        )
        prompt_ids = None if request.prompt_ids is not None or request.images else inputs["input_ids"][0].tolist()
        return self._output(generated[0, prompt_len:].tolist(), request, prompt_len, prompt_ids)

    def _output(self, token_ids: list[int], request: EngineRequest, prompt_len: int,
                prompt_ids: list[int] | None = None) -> EngineOutput:
        ended_by_eos = bool(token_ids) and token_ids[-1] in self.eos_ids
        visible = token_ids[:-1] if ended_by_eos else token_ids
        text = self.tokenizer.decode(visible, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        stopped_on = None
        for stop in request.stop:
            if stop in text:
                text = text[: text.index(stop) + len(stop)]
                stopped_on = stop
                break
        finish = "stop" if (ended_by_eos or stopped_on) else ("length" if len(token_ids) >= request.max_tokens else "stop")
        return EngineOutput(token_ids=token_ids, text=text, finish_reason=finish, stopped_on=stopped_on,
                            prompt_tokens=prompt_len, prompt_ids=prompt_ids)

    def close(self) -> None:
        del self.model


def _load_image_processor(model: str, trust_remote_code: bool = False) -> Any:
    """The model's image processor; Qwen-VL's PIL processor needs no torchvision."""
    config_path = Path(model) / "preprocessor_config.json"
    settings = json.loads(config_path.read_text()) if config_path.exists() else {}
    kind = settings.get("image_processor_type", "")
    if kind.startswith("Qwen2VLImageProcessor"):
        from transformers import Qwen2VLImageProcessorPil

        keep = {k: v for k, v in settings.items() if k in (
            "min_pixels", "max_pixels", "patch_size", "temporal_patch_size", "merge_size", "image_mean",
            "image_std", "do_resize", "do_rescale", "do_normalize", "rescale_factor", "do_convert_rgb")}
        return Qwen2VLImageProcessorPil(**keep)
    from transformers import AutoImageProcessor

    return AutoImageProcessor.from_pretrained(model, trust_remote_code=trust_remote_code)


def _qwen_vl_inputs(tokenizer: Any, image_processor: Any, prompt: str, images: list[Any]) -> dict[str, torch.Tensor]:
    """Expand each <|image_pad|> into as many pads as the image has merged patches, as Qwen's processor does."""
    processed = image_processor(images=images, return_tensors="pt")
    grid = processed["image_grid_thw"]
    merge = getattr(image_processor, "merge_size", 2) ** 2
    pad = "<|image_pad|>"
    parts = prompt.split(pad)
    if len(parts) - 1 != len(images):
        raise ValueError(f"prompt has {len(parts) - 1} image placeholders but the request has {len(images)} images")
    text = parts[0]
    for k, part in enumerate(parts[1:]):
        text += pad * int(grid[k].prod().item() // merge) + part
    encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    return {**encoded, "pixel_values": processed["pixel_values"], "image_grid_thw": grid}
