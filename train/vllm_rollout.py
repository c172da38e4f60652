"""Colocated vLLM rollouts: the sampler shares the GPU (and the process) with the trainer.

After each optimizer step the trainer's weights are pushed into vLLM through the worker's in-place
`reload_weights` (HF parameter names in, vLLM's fused layout out), and the prefix cache is reset,
because cached KV blocks were computed by the old weights. With sleep mode, vLLM drops its weights and
KV cache (sleep level 2) while the trainer runs its forward/backward passes, and takes memory back
before the next rollout: weights first, then the KV cache once they are loaded.

The engine core runs in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`) so that `collective_rpc` hands
vLLM the trainer's tensors directly instead of pickling a full copy of the weights to a subprocess.
Simplification: vLLM's sampling log-probs are not used; π_old is recomputed by the trainer when a
rollout batch is split into several updates, so sampler/trainer numeric drift is not corrected for.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from train.config import RolloutConfig
from train.data import EncodedPrompt
from train.policy import Policy, stop_token_ids
from train.rollout import Completion, SamplingSettings, finish_completion


class VLLMRolloutEngine:
    def __init__(self, policy: Policy, rollout: RolloutConfig, max_prompt_tokens: int, seed: int = 0,
                 **engine_args: Any) -> None:
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        self.policy = policy
        self.stop_ids = stop_token_ids(policy)
        self.sleep_mode = rollout.vllm_sleep_mode and torch.cuda.is_available()
        max_model_len = rollout.vllm_max_model_len or (max_prompt_tokens + rollout.max_new_tokens)
        options: dict[str, Any] = dict(
            model=str(policy.path), seed=seed, max_model_len=max_model_len, enable_prefix_caching=True,
            trust_remote_code=policy.trust_remote_code,
            dtype="bfloat16" if policy.autocast_dtype is torch.bfloat16 else "float32",
        )
        if torch.cuda.is_available():
            options.update(gpu_memory_utilization=rollout.vllm_gpu_memory_utilization,
                           enable_sleep_mode=self.sleep_mode)
        else:
            options.update(enforce_eager=True)
        options.update(engine_args)
        self.llm = LLM(**options)
        self.asleep = False
        self.weights_loaded = True

    def sync_weights(self, model: torch.nn.Module) -> None:
        """Copy the trainer's current weights into vLLM and forget KV computed with the old ones."""
        if self.asleep:
            self.llm.wake_up(tags=["weights"])
        state = model.state_dict()
        # The worker's in-place reload takes HF-format (checkpoint) names and tensors, maps them onto vLLM's
        # fused layout and re-runs the post-load processing (e.g. the CPU backend's weight repacking), which a
        # bare `model.load_weights` would skip.
        self.llm.collective_rpc("reload_weights", kwargs={
            "weights_iterator": ((name, tensor.detach()) for name, tensor in state.items()),
            "is_checkpoint_format": True,
        })
        self.weights_loaded = True
        self.llm.reset_prefix_cache()

    def sleep(self) -> None:
        if self.sleep_mode and not self.asleep:
            # level 2 drops the weights too: they are replaced by the next sync anyway
            self.llm.sleep(level=2)
            self.asleep, self.weights_loaded = True, False

    def wake_up(self) -> None:
        if not self.asleep:
            return
        if not self.weights_loaded:
            raise RuntimeError("vLLM woke up without weights: call sync_weights after sleep and before generate")
        self.llm.wake_up(tags=["kv_cache"])
        self.asleep = False

    def generate(self, prompts: list[EncodedPrompt], n: int, settings: SamplingSettings,
                 seed: int) -> list[list[Completion]]:
        from vllm import SamplingParams

        params = SamplingParams(
            n=n, temperature=settings.temperature, top_p=settings.top_p, max_tokens=settings.max_new_tokens,
            seed=seed, stop_token_ids=self.stop_ids, skip_special_tokens=False,
        )
        requests = []
        for prompt in prompts:
            if prompt.images:
                from PIL import Image

                # vLLM runs the model's own processor on the prompt text, as ours did for training
                images = [Image.open(path).convert("RGB") for path in prompt.images]
                requests.append({"prompt": prompt.text, "multi_modal_data": {"image": images}})
            else:
                requests.append({"prompt_token_ids": prompt.input_ids})
        outputs = self.llm.generate(requests, params, use_tqdm=False)
        stop_set = set(self.stop_ids)
        groups = []
        for output in outputs:
            group = []
            for sample in output.outputs:
                ids = list(sample.token_ids)
                if sample.finish_reason == "stop" and (not ids or ids[-1] not in stop_set):
                    ids.append(self.stop_ids[0])  # keep the stop in the training sequence: the policy learns to stop
                group.append(finish_completion(ids, stop_set, self.policy.tokenizer, settings.max_new_tokens))
            groups.append(group)
        return groups
