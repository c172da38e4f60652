"""Our GRPO loss equals TRL's (`GRPOTrainer._compute_loss`) on the same model and inputs, to 1e-6.

Both sides run the same tiny Qwen2 forward pass; the inputs hold π_old and π_ref log-probabilities that
differ from the current policy, so the ratio, both clip bounds and the KL term are all exercised.
TRL's default `use_bias_correction_kl=True` multiplies the KL by the ratio; the report's eq. 7 does not,
so that switch is turned off here. Loss types: TRL "grpo" = our sequence_mean, "bnpo" = token_mean,
"dr_grpo" = constant with max_completion_length as the normaliser.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("trl", reason="TRL is a test-only dependency for this equivalence check")

from tiny_models import build_tiny_text_model  # noqa: E402

from train.loss import LossConfig, grpo_loss  # noqa: E402
from train.policy import build_sequence_batch, load_policy, score_sequences  # noqa: E402

MAX_COMPLETION = 6
TEMPERATURE = 0.7


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_text_model(tmp_path_factory.mktemp("trl-eq") / "model", seed=3)


@pytest.fixture(scope="module")
def fixed_inputs():
    generator = torch.Generator().manual_seed(7)
    prompt_ids = torch.randint(10, 400, (4, 5), generator=generator)
    completion_ids = torch.randint(10, 400, (4, MAX_COMPLETION), generator=generator)
    completion_mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0], [1, 1, 0, 0, 0, 0]])
    return dict(
        prompt_ids=prompt_ids,
        prompt_mask=torch.ones_like(prompt_ids),
        completion_ids=completion_ids,
        completion_mask=completion_mask,
        advantages=torch.tensor([1.2, -0.4, 0.3, -1.1]),
        # offsets large enough that some ratios leave [1 - 0.2, 1 + 0.28]
        old_offsets=(torch.rand(4, MAX_COMPLETION, generator=generator) - 0.5) * 0.8,
        ref_offsets=(torch.rand(4, MAX_COMPLETION, generator=generator) - 0.5) * 0.6,
    )


def trl_trainer(model_dir, loss_type, beta):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(
        output_dir=str(model_dir.parent / f"trl-{loss_type}"), per_device_train_batch_size=4, num_generations=4,
        max_completion_length=MAX_COMPLETION, loss_type=loss_type, beta=beta, epsilon=0.2, epsilon_high=0.28,
        temperature=TEMPERATURE, use_bias_correction_kl=False, report_to="none", use_cpu=True, bf16=False,
        logging_steps=1000,
    )
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dataset = Dataset.from_list([{"prompt": "What is 1 + 1?"}] * 4)
    return GRPOTrainer(model=model, reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
                       args=args, train_dataset=dataset, processing_class=tokenizer)


@pytest.mark.parametrize("loss_type,aggregation", [("grpo", "sequence_mean"), ("bnpo", "token_mean"),
                                                   ("dr_grpo", "constant")])
@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_loss_equals_trl_grpo_loss(model_dir, fixed_inputs, loss_type, aggregation, beta):
    policy = load_policy(str(model_dir))
    policy.model.eval()  # no dropout in either; eval also makes TRL skip its accumulation divisor
    inputs = fixed_inputs
    mask = inputs["completion_mask"]
    sequences = build_sequence_batch(inputs["prompt_ids"].tolist(), inputs["completion_ids"].tolist(), pad_id=0)
    logp_full, _ = score_sequences(policy, policy.model, sequences, TEMPERATURE)
    prompt_length = inputs["prompt_ids"].shape[1]
    logp = logp_full[:, prompt_length - 1 :]  # the completion positions, [4, MAX_COMPLETION]
    old_logp = (logp.detach() + inputs["old_offsets"]) * mask
    ref_logp = (logp.detach() + inputs["ref_offsets"]) * mask
    ours = grpo_loss(logp, old_logp, inputs["advantages"], mask.float(),
                     LossConfig(clip_low=0.2, clip_high=0.28, beta=beta, aggregation=aggregation,
                                constant_normalizer=MAX_COMPLETION),
                     ref_logp=ref_logp)

    trainer = trl_trainer(model_dir, loss_type, beta)
    trainer.model.load_state_dict(policy.model.state_dict())
    trainer.model.eval()
    trl_inputs = {k: inputs[k] for k in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask",
                                         "advantages")}
    trl_inputs["old_per_token_logps"] = old_logp
    trl_inputs["ref_per_token_logps"] = ref_logp
    theirs = trainer._compute_loss(trainer.model, trl_inputs)

    assert ours.clip_fraction > 0, "the fixture should make the clip bind somewhere"
    assert ours.loss.item() == pytest.approx(theirs.item(), abs=1e-6)
