"""Supervised stages: cold-start SFT on chain-of-thought rows, and connector-only SFT (the report's §3.4).

Both are next-token cross-entropy on the response tokens only (the prompt is context, not a target),
averaged over the response tokens of each optimizer batch. They differ in what is trainable and in
their defaults: the connector-only stage freezes the vision tower and the LLM, uses lr 1e-5 with cosine
decay after a 0.03 warmup, and stops early when the validation loss stops improving; the checkpoint
with the best validation loss is kept as `checkpoints/best`.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from harness.rundir import write_json_atomic
from train.checkpoint import save_checkpoint
from train.config import TrainConfig, config_to_dict
from train.data import TrainItem, encode_prompt, load_items, prompt_builder
from train.errors import SetupError, TrainingDiverged
from train.freeze import apply_freeze, trainable_parameters
from train.metrics import MetricsLogger
from train.optimizer import settings_that_must_match, start_optimization
from train.policy import Policy, build_sequence_batch, load_policy, stop_token_ids


@dataclass
class Example:
    prompt_ids: list[int]
    response_ids: list[int]
    extras: dict


def encode_examples(policy: Policy, items: list[TrainItem], config: TrainConfig) -> list[Example]:
    builder = prompt_builder(policy.path, policy.tokenizer, config.data.system_prompt)
    stop = policy.tokenizer.convert_tokens_to_ids("<|im_end|>")
    if not isinstance(stop, int) or stop == policy.tokenizer.unk_token_id:
        stop = stop_token_ids(policy)[0]
    examples = []
    for item in items:
        prompt = encode_prompt(policy.processor, policy.tokenizer, builder, item, config.data.thinking,
                               config.data.max_prompt_tokens)
        response = policy.tokenizer(item.response, add_special_tokens=False)["input_ids"] + [stop]
        examples.append(Example(prompt.input_ids, response, prompt.extras))
    return examples


def _batch_loss(policy: Policy, examples: list[Example], total_tokens: float) -> torch.Tensor:
    batch = build_sequence_batch([e.prompt_ids for e in examples], [e.response_ids for e in examples],
                                 policy.tokenizer.pad_token_id, [e.extras for e in examples])
    device = policy.device
    extras = {k: v.to(device) for k, v in batch.extras.items()}
    with policy.autocast():
        logits = policy.model(input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device),
                              **extras).logits
    targets = batch.input_ids[:, 1:].to(device)
    per_token = torch.nn.functional.cross_entropy(logits[:, :-1].float().transpose(1, 2), targets, reduction="none")
    return (per_token * batch.response_mask.to(device)).sum() / max(total_tokens, 1.0)


@torch.no_grad()
def validation_loss(policy: Policy, examples: list[Example], micro_batch: int) -> float:
    was_training = policy.model.training
    policy.model.eval()
    total_tokens = float(sum(len(e.response_ids) for e in examples))
    loss = sum(float(_batch_loss(policy, examples[i : i + micro_batch], total_tokens).item())
               for i in range(0, len(examples), micro_batch))
    policy.model.train(was_training)
    return loss


def run_sft(config: TrainConfig) -> Path:
    """Train one supervised stage to completion (or early stop) and return the checkpoint to use next."""
    if config.stage == "connector_sft" and (config.freeze.train_vision or config.freeze.train_llm
                                            or not config.freeze.train_connector):
        raise SetupError("stage connector_sft trains the connector only: set freeze.train_vision=false, "
                         "freeze.train_llm=false, freeze.train_connector=true")
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    policy = load_policy(config.model, config.device, config.optim.precision, config.model_trust_remote_code)
    freeze_report = apply_freeze(policy.model, config.freeze)
    train_examples = encode_examples(policy, load_items(config.data.train, need_response=True), config)
    validation = (encode_examples(policy, load_items(config.data.validation, need_response=True), config)
                  if config.data.validation else [])
    optim = config.optim
    batches_per_epoch = math.ceil(len(train_examples) / optim.batch_size)
    total_steps = batches_per_epoch * optim.epochs
    optimization = start_optimization(policy.model, config, total_steps)
    optimizer, scheduler, resume = optimization.optimizer, optimization.scheduler, optimization.resume
    step, best, stale = 0, math.inf, 0
    if resume is not None:
        step, best, stale = resume.step, float(resume.state.get("best", math.inf)), int(resume.state.get("stale", 0))
    logger = MetricsLogger(output_dir, config.log.tensorboard, resume_step=step)
    write_json_atomic(output_dir / "config.json", config_to_dict(config))
    logger.log({"event": "start", "step": step, "stage": config.stage, "train_examples": len(train_examples),
                "trainable": freeze_report.trainable, "frozen": freeze_report.frozen})
    eval_every = optim.eval_every_steps or batches_per_epoch
    progress = None
    if config.log.progress:
        from tqdm import tqdm

        progress = tqdm(total=total_steps, initial=step, desc=config.stage, dynamic_ncols=True)

    def save(name: str | None = None) -> Path:
        state = {"best": best, "stale": stale, "stage": config.stage, "comparable": settings_that_must_match(config)}
        return save_checkpoint(output_dir, step, policy.model, policy.tokenizer, policy.processor, optimizer,
                               scheduler, state, keep_last=config.checkpoint.keep_last if name is None else 0,
                               name=name)

    last = resume.path if resume is not None else None
    stopped_early = False
    policy.model.train()
    try:
        while step < total_steps and not stopped_early:
            epoch, index = divmod(step, batches_per_epoch)
            order = list(range(len(train_examples)))
            random.Random(config.seed * 1_000_003 + epoch).shuffle(order)
            chosen = [train_examples[i] for i in order[index * optim.batch_size : (index + 1) * optim.batch_size]]
            started = time.perf_counter()
            total_tokens = float(sum(len(e.response_ids) for e in chosen))
            loss_value = 0.0
            for start in range(0, len(chosen), optim.micro_batch_size):
                loss = _batch_loss(policy, chosen[start : start + optim.micro_batch_size], total_tokens)
                if not torch.isfinite(loss):
                    raise TrainingDiverged(f"step {step + 1}: loss is {loss.item()}; stopped, last good checkpoint: "
                                              f"{last or 'none yet'}")
                loss.backward()
                loss_value += float(loss.item())
            norm = torch.nn.utils.clip_grad_norm_(trainable_parameters(policy.model), optim.max_grad_norm)
            if not torch.isfinite(norm):
                raise TrainingDiverged(f"step {step + 1}: gradient norm is {norm.item()}; stopped, last good "
                                          f"checkpoint: {last or 'none yet'}")
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            row = {"step": step, "epoch": epoch, "loss": loss_value, "grad_norm": float(norm.item()),
                   "lr": scheduler.get_last_lr()[0], "time_step": round(time.perf_counter() - started, 4)}
            if validation and (step % eval_every == 0 or step == total_steps):
                row["validation_loss"] = validation_loss(policy, validation, optim.micro_batch_size)
                if row["validation_loss"] < best:
                    best, stale = row["validation_loss"], 0
                    save("best")
                else:
                    stale += 1
                    if optim.early_stop_patience and stale >= optim.early_stop_patience:
                        row["event"] = f"early stop: validation loss did not improve for {stale} evaluations"
                        stopped_early = True
            logger.log(row)
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{loss_value:.3f}")
            if step % config.checkpoint.every_steps == 0 or step == total_steps or stopped_early:
                last = save()
    finally:
        if progress is not None:
            progress.close()
        logger.close()
    best_dir = output_dir / "checkpoints" / "best"
    return best_dir if validation and best_dir.exists() else last
