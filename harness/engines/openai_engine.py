"""The server engine: any OpenAI-compatible endpoint (vLLM serve, SGLang, a hosted API) behind the engine interface.

Prompts go out raw through `/v1/completions`, so the harness's own templates (and its `<think>`
opening) apply exactly as with the offline engine; bans go out as `logit_bias` (-100 per banned id),
budgets as `max_tokens`, and the force policy's second phase as a continuation of the raw prompt.
A request with images cannot go through `/v1/completions`, so it goes through `/v1/chat/completions`
with a pass-through chat template that reproduces the harness's prompt text around the images (the
server must trust request templates: `--trust-request-chat-template`).

With `server="vllm"` (the default) the request also asks for the token ids, for special tokens kept
in the text and for stop strings kept in the output, so a vLLM server gives the very tokens the
offline engine gives for the same seed. Other servers (`server="generic"`) get only standard
parameters; the token ids are then re-tokenised from the text.

Requests run concurrently (at most `concurrency` in flight); the OpenAI client retries connection
errors, 408/409/429 and 5xx with exponential backoff (`max_retries`) and gives each request
`timeout` seconds. Resume comes from the runner: every batch is on disk before the next is sent.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from harness.engines import EngineOutput, EngineRequest, Progress, SamplingSettings
from harness.engines.vllm_engine import eos_texts as end_of_turn_texts

BAN_BIAS = -100.0
QWEN_VISION = "<|vision_start|><|image_pad|><|vision_end|>"

# Renders the message parts back to the prompt text: text parts verbatim, each image as the placeholder.
_PASS_THROUGH = (
    "{%- for message in messages -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{ part['text'] }}{%- else -%}{{ image_placeholder }}{%- endif -%}"
    "{%- endfor -%}{%- endfor -%}"
)


class EngineError(RuntimeError):
    """The server could not serve a request; the message names the server and the request."""


class OpenAIEngine:
    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None,
                 served_model: str | None = None, concurrency: int = 32, timeout: float = 600.0,
                 max_retries: int = 5, server: str = "vllm", max_model_len: int | None = None,
                 image_placeholder: str | None = None, server_args: list[str] | None = None,
                 dtype: str = "auto", max_images: int = 8, **_: Any):
        from openai import OpenAI
        from transformers import AutoTokenizer

        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if server not in ("vllm", "generic"):
            raise ValueError(f"server {server!r}: choose vllm or generic")
        self.local_server = None
        if base_url is None:
            from harness.engines.server import start_vllm_server

            args = list(server_args or [])
            if dtype != "auto" and "--dtype" not in args:
                args += ["--dtype", dtype]
            if max_model_len and "--max-model-len" not in args:
                args += ["--max-model-len", str(max_model_len)]
            if "--limit-mm-per-prompt" not in args and _is_multimodal(model):
                args += ["--limit-mm-per-prompt", json.dumps({"image": max_images})]
            if not _has_cuda() and "--enforce-eager" not in args:
                args.append("--enforce-eager")  # CPU: graph compilation costs minutes and buys nothing
            self.local_server = start_vllm_server(model, args=args)
            base_url = self.local_server.base_url
        self.base_url = base_url.rstrip("/")
        self.server = server
        self.concurrency = concurrency
        self.timeout = timeout
        self.image_placeholder = image_placeholder
        self.client = OpenAI(base_url=self.base_url, api_key=api_key or "EMPTY", timeout=timeout,
                             max_retries=max_retries)
        self.served_model, listed_len = self._served_model(model, served_model)
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=True)
        self.eos_texts = end_of_turn_texts(model, self.tokenizer)
        self.max_model_len = int(max_model_len or listed_len or getattr(self.tokenizer, "model_max_length", 0) or 0)

    def _served_model(self, model: str, wanted: str | None) -> tuple[str, int | None]:
        """The model name to send, and the context length the server reports (vLLM does)."""
        try:
            listed = self.client.models.list().data
        except Exception as exc:  # noqa: BLE001 - any client failure means the same thing here
            raise EngineError(f"cannot list models at {self.base_url}: {exc}") from exc
        by_id = {entry.id: entry for entry in listed}
        if wanted is None:
            wanted = next(iter(by_id)) if len(by_id) == 1 else model
        if by_id and wanted not in by_id:
            raise EngineError(f"{self.base_url} serves {sorted(by_id)}, not {wanted!r}; "
                              "pass --engine-arg served_model=NAME")
        entry = by_id.get(wanted)
        extra = getattr(entry, "model_extra", None) or {}
        return wanted, extra.get("max_model_len")

    def generate(self, requests: list[EngineRequest], sampling: SamplingSettings,
                 progress: Progress | None = None) -> list[EngineOutput]:
        results: list[EngineOutput | None] = [None] * len(requests)
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=min(self.concurrency, max(1, len(requests)))) as pool:
            futures = {pool.submit(self._one, request, sampling): index for index, request in enumerate(requests)}
            for future in as_completed(futures):
                index = futures[future]
                try:
                    results[index] = future.result()
                except EngineError:
                    for pending in futures:
                        pending.cancel()
                    raise
                if progress:
                    with lock:
                        progress(1)
        return [r for r in results if r is not None]

    def _sampling_body(self, request: EngineRequest, sampling: SamplingSettings) -> tuple[dict[str, Any], dict[str, Any]]:
        body: dict[str, Any] = {
            "max_tokens": request.max_tokens, "temperature": sampling.temperature, "top_p": sampling.top_p,
            "seed": request.seed,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if sampling.banned_token_ids:
            body["logit_bias"] = {str(int(i)): BAN_BIAS for i in sampling.banned_token_ids}
        extra: dict[str, Any] = {}
        if self.server == "vllm":
            extra = {"skip_special_tokens": False, "spaces_between_special_tokens": False,
                     "include_stop_str_in_output": True, "return_token_ids": True}
        return body, extra

    def _one(self, request: EngineRequest, sampling: SamplingSettings) -> EngineOutput:
        body, extra = self._sampling_body(request, sampling)
        try:
            if request.images:
                response = self.client.chat.completions.create(
                    model=self.served_model, messages=[self._message(request)],
                    extra_body={**extra, "chat_template": _PASS_THROUGH, "add_generation_prompt": False,
                                "chat_template_kwargs": {"image_placeholder": self._placeholder(request.prompt)}},
                    **body)
                choice = response.choices[0]
                text = choice.message.content or ""
            else:
                response = self.client.completions.create(model=self.served_model, prompt=request.prompt,
                                                          extra_body=extra, **body)
                choice = response.choices[0]
                text = choice.text or ""
        except Exception as exc:  # noqa: BLE001 - the client has already retried what can be retried
            raise EngineError(f"{self.base_url}: request (seed {request.seed}, {len(request.prompt)} prompt chars) "
                              f"failed: {type(exc).__name__}: {exc}") from exc
        return self._output(request, choice, text, response)

    def _output(self, request: EngineRequest, choice: Any, text: str, response: Any) -> EngineOutput:
        extra = getattr(choice, "model_extra", None) or {}
        stop_reason = extra.get("stop_reason", extra.get("matched_stop"))
        stopped_on = stop_reason if isinstance(stop_reason, str) and stop_reason in request.stop else None
        if stopped_on and not text.endswith(stopped_on):
            text += stopped_on  # the server trimmed the stop string; the harness keeps it
        if choice.finish_reason == "stop" and stopped_on is None:
            # Special tokens are kept in the text, so the end-of-turn token shows; the offline engine drops it.
            text = next((text[: -len(eos)] for eos in self.eos_texts if text.endswith(eos)), text)
        token_ids = extra.get("token_ids")
        if token_ids is None:
            token_ids = self.tokenizer.encode(text, add_special_tokens=False)
        prompt_ids = extra.get("prompt_token_ids") or (getattr(response, "model_extra", None) or {}).get("prompt_token_ids")
        usage = getattr(response, "usage", None)
        prompt_tokens = len(prompt_ids) if prompt_ids else int(getattr(usage, "prompt_tokens", 0) or 0)
        return EngineOutput(token_ids=list(token_ids), text=text,
                            finish_reason="length" if choice.finish_reason == "length" else "stop",
                            stopped_on=stopped_on, prompt_tokens=prompt_tokens)

    def _placeholder(self, prompt: str) -> str:
        if self.image_placeholder:
            return self.image_placeholder
        return QWEN_VISION if QWEN_VISION in prompt else "<image>"

    def _message(self, request: EngineRequest) -> dict[str, Any]:
        """The prompt as one message: its text split at the image placeholders, the images in between."""
        placeholder = self._placeholder(request.prompt)
        pieces = request.prompt.split(placeholder)
        if len(pieces) - 1 != len(request.images):
            raise EngineError(f"the prompt has {len(pieces) - 1} image placeholders ({placeholder!r}) but the request "
                              f"carries {len(request.images)} images")
        parts: list[dict[str, Any]] = []
        for index, piece in enumerate(pieces):
            if piece:
                parts.append({"type": "text", "text": piece})
            if index < len(request.images):
                parts.append({"type": "image_url", "image_url": {"url": _data_url(request.images[index])}})
        return {"role": "user", "content": parts}

    def close(self) -> None:
        self.client.close()
        if self.local_server is not None:
            self.local_server.close()
            self.local_server = None


def _data_url(image: Any) -> str:
    import base64
    import io

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _is_multimodal(model: str) -> bool:
    """Whether the model's config has a vision tower (only then is an image limit worth passing)."""
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model, trust_remote_code=True)
    except Exception:  # noqa: BLE001 - the server will report an unloadable model itself
        return False
    return getattr(config, "vision_config", None) is not None


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False
