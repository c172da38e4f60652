"""The server engine: any OpenAI-compatible endpoint (vLLM serve, SGLang, a hosted API) behind the engine interface.

Prompts go out raw through `/v1/completions`, so the harness's own templates (and its `<think>` opening)
apply exactly as with the offline engine; bans go out as `logit_bias` (-100 per banned id), budgets as
`max_tokens`, and the force policy's second phase as a continuation of the raw prompt. A request with
images cannot go through `/v1/completions`, so it goes through `/v1/chat/completions` with a pass-through
chat template that reproduces the harness's prompt text around the images (the server must trust request
templates: `--trust-request-chat-template`).

With `server="vllm"` (the default) the request also asks for the token ids, for special tokens kept in
the text, for stop strings kept in the output, and for top-k / min-p, so a vLLM server gives the very
tokens the offline engine gives for the same seed. Other servers (`server="generic"`) get only standard
parameters (top-k and min-p are refused there unless off); token ids are then re-tokenised from the text.

Requests stream: at most `concurrency` are in flight, and each finished one is handed on at once while
the next starts. Every attempt ends by a wall-clock deadline (`timeout` seconds, see
harness.engines.deadline); connection errors, 408/409/429 and 5xx are retried `max_retries` times with
exponential backoff. The API key is read from the environment variable `api_key_env` and is never written.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io
import json
import os
from typing import Any, Hashable, Iterator

from harness.config import DEFAULT_KEY_ENV, SamplingSettings
from harness.engines import Engine, EngineError, EngineOutput, EngineRequest, Feed
from harness.engines.common import end_of_turn_texts, has_cuda, is_vision_model, model_config, strip_end_of_turn, \
    vllm_sampling_args
from harness.engines.deadline import DeadlineExceeded, DeadlineLoop

QWEN_VISION = "<|vision_start|><|image_pad|><|vision_end|>"
BACKOFF_S = 0.5
# The sampling arguments of the OpenAI API itself; vLLM's others (top-k, min-p, ...) go in the extra body.
OPENAI_SAMPLING = ("temperature", "top_p", "logit_bias")

# Renders the message parts back to the prompt text: text parts verbatim, each image as the placeholder.
_PASS_THROUGH = (
    "{%- for message in messages -%}{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'text' -%}{{ part['text'] }}{%- else -%}{{ image_placeholder }}{%- endif -%}"
    "{%- endfor -%}{%- endfor -%}"
)


def _retryable(error: BaseException) -> bool:
    import openai

    if isinstance(error, (DeadlineExceeded, openai.APIConnectionError)):
        return True
    return isinstance(error, openai.APIStatusError) and (error.status_code >= 500 or error.status_code in (408, 409, 429))


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = DEFAULT_KEY_ENV,
                 served_model: str | None = None, concurrency: int = 32, timeout: float = 600.0,
                 max_retries: int = 5, server: str = "vllm", max_model_len: int | None = None,
                 image_placeholder: str | None = None, server_args: list[str] | None = None,
                 dtype: str = "auto", max_images: int = 8, trust_remote_code: bool = False, **_: Any):
        from openai import AsyncOpenAI, OpenAI
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
            if "--limit-mm-per-prompt" not in args and _vision(model, trust_remote_code):
                args += ["--limit-mm-per-prompt", json.dumps({"image": max_images})]
            if trust_remote_code and "--trust-remote-code" not in args:
                args.append("--trust-remote-code")
            if not has_cuda() and "--enforce-eager" not in args:
                args.append("--enforce-eager")  # CPU: graph compilation costs minutes and buys nothing
            self.local_server = start_vllm_server(model, args=args)
            base_url = self.local_server.base_url
        self.base_url = base_url.rstrip("/")
        self.server = server
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.image_placeholder = image_placeholder
        api_key = os.environ.get(api_key_env) or "EMPTY"
        self.loop = DeadlineLoop()
        self.client = AsyncOpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout, max_retries=0)
        with OpenAI(base_url=self.base_url, api_key=api_key, timeout=min(timeout, 60.0), max_retries=2) as listing:
            self.served_model, listed_len = self._served_model(listing, model, served_model)
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
        self.eos_texts = end_of_turn_texts(model, self.tokenizer, trust_remote_code)
        self.max_model_len = int(max_model_len or listed_len or getattr(self.tokenizer, "model_max_length", 0) or 0)

    def _served_model(self, client: Any, model: str, wanted: str | None) -> tuple[str, int | None]:
        """The model name to send, and the context length the server reports (vLLM does)."""
        try:
            listed = client.models.list().data
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

    def stream(self, feed: Feed, sampling: SamplingSettings) -> Iterator[tuple[Hashable, EngineOutput]]:
        beyond = {key: value for key, value in vllm_sampling_args(sampling).items()
                  if key not in OPENAI_SAMPLING and value}
        if self.server == "generic" and beyond:
            raise EngineError(f"{self.base_url}: a generic OpenAI-compatible server takes no "
                              f"{', '.join(sorted(beyond))}; use --engine-arg server=vllm for a vLLM server, "
                              "or leave them off")
        in_flight: dict[concurrent.futures.Future, tuple[Hashable, EngineRequest]] = {}
        try:
            while True:
                while len(in_flight) < self.concurrency and (item := feed.pull()) is not None:
                    tag, request = item
                    in_flight[self.loop.submit(lambda r=request: self._with_retries(r, sampling),
                                               self.timeout * (self.max_retries + 1) + 60)] = item
                if not in_flight:
                    return
                done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    tag, request = in_flight.pop(future)
                    try:
                        output = future.result()
                    except EngineError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - reported with the request it belongs to
                        raise EngineError(f"{self.base_url}: request (seed {request.seed}, {len(request.prompt)} "
                                          f"prompt chars) failed: {type(exc).__name__}: {exc}") from exc
                    yield tag, output
        finally:
            for future in in_flight:
                future.cancel()

    async def _with_retries(self, request: EngineRequest, sampling: SamplingSettings) -> EngineOutput:
        error: BaseException | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(min(30.0, BACKOFF_S * 2 ** (attempt - 1)))
            try:
                return await asyncio.wait_for(self._one(request, sampling), self.timeout)
            except asyncio.TimeoutError:
                error = DeadlineExceeded(f"no complete answer within the {self.timeout:g} s deadline")
            except Exception as exc:  # noqa: BLE001 - retried or reported below
                error = exc
                if not _retryable(exc):
                    break
        raise EngineError(f"{self.base_url}: request (seed {request.seed}, {len(request.prompt)} prompt chars) "
                          f"failed after {attempt + 1} attempts: {type(error).__name__}: {error}")

    def _sampling_body(self, request: EngineRequest, sampling: SamplingSettings) -> tuple[dict[str, Any], dict[str, Any]]:
        arguments = vllm_sampling_args(sampling)
        body: dict[str, Any] = {"max_tokens": request.max_tokens, "seed": request.seed,
                                "temperature": arguments["temperature"], "top_p": arguments["top_p"]}
        if request.stop:
            body["stop"] = list(request.stop)
        if arguments["logit_bias"]:
            body["logit_bias"] = {str(token_id): value for token_id, value in arguments["logit_bias"].items()}
        extra: dict[str, Any] = {}
        if self.server == "vllm":  # vLLM's own sampling arguments beyond the OpenAI ones (top-k, min-p, ...)
            extra = {"skip_special_tokens": False, "spaces_between_special_tokens": False,
                     "include_stop_str_in_output": True, "return_token_ids": True,
                     **{key: value for key, value in arguments.items() if key not in OPENAI_SAMPLING}}
        return body, extra

    async def _one(self, request: EngineRequest, sampling: SamplingSettings) -> EngineOutput:
        body, extra = self._sampling_body(request, sampling)
        if request.images:
            response = await self.client.chat.completions.create(
                model=self.served_model, messages=[self._message(request)],
                extra_body={**extra, "chat_template": _PASS_THROUGH, "add_generation_prompt": False,
                            "chat_template_kwargs": {"image_placeholder": self._placeholder(request.prompt)}},
                **body)
            choice = response.choices[0]
            text = choice.message.content or ""
        else:
            response = await self.client.completions.create(model=self.served_model, prompt=request.prompt,
                                                            extra_body=extra, **body)
            choice = response.choices[0]
            text = choice.text or ""
        return self._output(request, choice, text, response)

    def _output(self, request: EngineRequest, choice: Any, text: str, response: Any) -> EngineOutput:
        extra = getattr(choice, "model_extra", None) or {}
        stop_reason = extra.get("stop_reason", extra.get("matched_stop"))
        stopped_on = stop_reason if isinstance(stop_reason, str) and stop_reason in request.stop else None
        if stopped_on and not text.endswith(stopped_on):
            text += stopped_on  # the server trimmed the stop string; the harness keeps it
        if choice.finish_reason == "stop" and stopped_on is None:
            text = strip_end_of_turn(text, self.eos_texts)
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
        self.loop.run(self.client.close())
        self.loop.close()
        if self.local_server is not None:
            self.local_server.close()
            self.local_server = None


def _data_url(image: Any) -> str:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _vision(model: str, trust_remote_code: bool) -> bool:
    """Whether the model's config has a vision tower (only then is an image limit worth passing)."""
    try:
        return is_vision_model(model_config(model, trust_remote_code))
    except Exception:  # noqa: BLE001 - the server will report an unloadable model itself
        return False
