"""Multi-node batch generation through Ray Data's LLM processors (`ray.data.llm`, vLLM replicas).

The harness keeps what it owns — prompts, seeds, budgets, modes, the run directory and resume — and
hands each batch of requests to a Ray Data pipeline whose vLLM stage runs `replicas` engine replicas
wherever the cluster has room (each with `tensor_parallel_size` GPUs). Ray's own executor does the
distribution; nothing here schedules work by hand.

Ray Data runs whole datasets, not a live stream: `stream` takes every request the feed holds as one Ray Data
job (which starts its replicas afresh: Ray Data keeps no actor pool between datasets) and yields the
outputs when that job ends; requests pushed meanwhile (the answer phases of `force`) make the next job.
Use it for multi-node bulk runs; on one node the vLLM engine streams for real.

Ray's vLLM stage returns the tokens and text but not vLLM's finish reason, so it is recovered from
the request: a generation that ends in an end-of-sequence token or a stop string stopped; one that
used all its tokens (or filled the context) hit the length limit.

Options that are Ray's rather than vLLM's travel in `engine_args` under these keys: `ray_address`,
`ray_batch_size` (rows per replica call), `placement_group_config` (e.g. `{"bundles": [{"CPU": 1}]}`
to run replicas without GPUs), `runtime_env`, `accelerator_type`.
"""

from __future__ import annotations

import os
from typing import Any, Hashable, Iterator

from harness.config import SamplingSettings
from harness.engines import Engine, EngineError, EngineOutput, EngineRequest, Feed
from harness.engines.common import end_of_turn_texts, model_config, strip_end_of_turn, vllm_sampling_args

RAY_KEYS = ("ray_address", "ray_batch_size", "placement_group_config", "runtime_env", "accelerator_type")


def _preprocess(row: dict[str, Any]) -> dict[str, Any]:
    prepared = {"index": row["index"], "prompt": row["prompt"], "sampling_params": row["sampling_params"]}
    if row.get("images"):
        images = row["images"]
        prepared["multimodal_data"] = {"image": images if len(images) > 1 else images[0]}
    return prepared


def _postprocess(row: dict[str, Any]) -> dict[str, Any]:
    return {"index": row["index"], "generated_tokens": list(row.get("generated_tokens") or []),
            "generated_text": row.get("generated_text") or "", "num_input_tokens": row.get("num_input_tokens") or 0}


class RayEngine(Engine):
    name = "ray"

    def __init__(self, model: str, replicas: int = 1, tensor_parallel_size: int = 1, dtype: str = "auto",
                 seed: int = 0, max_model_len: int | None = None, max_images: int = 8,
                 engine_args: dict[str, Any] | None = None, trust_remote_code: bool = False, **_: Any):
        import ray
        from ray.data.llm import vLLMEngineProcessorConfig
        from transformers import AutoTokenizer

        args = dict(engine_args or {})
        ray_options = {key: args.pop(key) for key in RAY_KEYS if key in args}
        engine_kwargs: dict[str, Any] = {
            "dtype": dtype, "seed": seed, "trust_remote_code": trust_remote_code, "enable_prefix_caching": True,
            "tensor_parallel_size": tensor_parallel_size, "limit_mm_per_prompt": {"image": max_images},
        }
        if max_model_len:
            engine_kwargs["max_model_len"] = max_model_len
        engine_kwargs.update(args)
        ray.init(address=ray_options.get("ray_address") or os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True,
                 log_to_driver=False)
        config_options: dict[str, Any] = {
            "model_source": model, "engine_kwargs": engine_kwargs, "concurrency": replicas,
            "batch_size": int(ray_options.get("ray_batch_size", 64)),
            # The harness renders and tokenises prompts itself; vLLM detokenises.
            "chat_template_stage": False, "tokenize_stage": False, "detokenize_stage": False,
            "prepare_multimodal_stage": False,
            # Exporting vLLM's metrics to Ray's Prometheus needs ray[serve]; the harness keeps its own.
            "log_engine_metrics": False,
        }
        for key in ("placement_group_config", "runtime_env", "accelerator_type"):
            if key in ray_options:
                config_options[key] = ray_options[key]
        self.processor_config = vLLMEngineProcessorConfig(**config_options)
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
        hf_config = model_config(model, trust_remote_code)
        text_config = getattr(hf_config, "text_config", None) or hf_config
        self.max_model_len = int(max_model_len or getattr(text_config, "max_position_embeddings", 0) or 0)
        eos = {self.tokenizer.eos_token_id}
        generation_eos = getattr(hf_config, "eos_token_id", None)
        eos.update(generation_eos if isinstance(generation_eos, list) else [generation_eos])
        self.eos_ids = {e for e in eos if e is not None}
        self.eos_texts = end_of_turn_texts(model, self.tokenizer, trust_remote_code)

    def rows(self, requests: list[EngineRequest], sampling: SamplingSettings) -> list[dict[str, Any]]:
        """One Ray Data row per request: the raw prompt and vLLM sampling parameters."""
        arguments = {k: v for k, v in vllm_sampling_args(sampling).items() if v is not None}
        rows = []
        for index, request in enumerate(requests):
            params: dict[str, Any] = {
                "n": 1, "seed": request.seed, "max_tokens": request.max_tokens, "skip_special_tokens": False,
                "spaces_between_special_tokens": False, "include_stop_str_in_output": True, **arguments,
            }
            if request.stop:
                params["stop"] = list(request.stop)
            rows.append({"index": index, "prompt": request.prompt, "sampling_params": params,
                         "images": list(request.images)})
        return rows

    def stream(self, feed: Feed, sampling: SamplingSettings) -> Iterator[tuple[Hashable, EngineOutput]]:
        while len(feed):
            batch = [item for item in iter(feed.pull, None)]
            for (tag, _), output in zip(batch, self._run_job([request for _, request in batch], sampling)):
                yield tag, output

    def _run_job(self, requests: list[EngineRequest], sampling: SamplingSettings) -> list[EngineOutput]:
        import ray
        from ray.data.llm import build_processor

        if not requests:
            return []
        processor = build_processor(self.processor_config, preprocess=_preprocess, postprocess=_postprocess)
        results = processor(ray.data.from_items(self.rows(requests, sampling))).take_all()
        by_index = {int(row["index"]): row for row in results}
        missing = [i for i in range(len(requests)) if i not in by_index]
        if missing:
            raise EngineError(f"the Ray pipeline returned no output for {len(missing)} of {len(requests)} requests "
                               f"(first: seed {requests[missing[0]].seed})")
        return [self.output(requests[i], by_index[i]) for i in range(len(requests))]

    def output(self, request: EngineRequest, row: dict[str, Any]) -> EngineOutput:
        """An engine output from a Ray row, with the finish reason recovered (see the module docstring)."""
        token_ids = [int(t) for t in row["generated_tokens"]]
        text = row["generated_text"]
        prompt_tokens = int(row["num_input_tokens"])
        stopped_on = next((stop for stop in request.stop if text.endswith(stop)), None)
        ended = bool(token_ids) and token_ids[-1] in self.eos_ids
        full = len(token_ids) >= request.max_tokens or (self.max_model_len and
                                                         prompt_tokens + len(token_ids) >= self.max_model_len)
        finish = "stop" if (stopped_on or ended or not full) else "length"
        if ended and stopped_on is None:
            text = strip_end_of_turn(text, self.eos_texts)
        return EngineOutput(token_ids=token_ids, text=text, finish_reason=finish, stopped_on=stopped_on,
                            prompt_tokens=prompt_tokens)

    def close(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()
