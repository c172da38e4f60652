"""Freeze groups: names map to the right group for each family, and frozen weights never move."""

from __future__ import annotations

import pytest
import torch
import transformers

from train.freeze import FreezeConfig, apply_freeze, parameter_group, trainable_parameters

IMAGE_TOKEN, VISION_START, VIDEO_TOKEN = 290, 291, 292


def tiny_qwen25_vl() -> transformers.PreTrainedModel:
    """A real Qwen2.5-VL with random weights, small enough for a few CPU optimizer steps."""
    torch.manual_seed(0)
    config = transformers.Qwen2_5_VLConfig(
        text_config=dict(
            hidden_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
            intermediate_size=64, vocab_size=300, rope_scaling={"type": "mrope", "mrope_section": [4, 6, 6]},
            bos_token_id=0, eos_token_id=1,
        ),
        vision_config=dict(depth=1, hidden_size=32, out_hidden_size=64, num_heads=2, intermediate_size=32,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2),
        image_token_id=IMAGE_TOKEN, vision_start_token_id=VISION_START, video_token_id=VIDEO_TOKEN,
    )
    return transformers.Qwen2_5_VLForConditionalGeneration(config).float()


def image_batch() -> dict[str, torch.Tensor]:
    # One 28x28 image: a 2x2 patch grid merged into one image token.
    input_ids = torch.tensor([[5, 6, VISION_START, IMAGE_TOKEN, 7, 8, 9, 10]])
    return dict(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        pixel_values=torch.randn(4, 3 * 2 * 14 * 14, generator=torch.Generator().manual_seed(1)),
        image_grid_thw=torch.tensor([[1, 2, 2]]),
        labels=input_ids,
    )


def train_a_few_steps(model: torch.nn.Module, steps: int = 3) -> None:
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=1e-2, weight_decay=0.1)
    for _ in range(steps):
        loss = model(**image_batch()).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize(
    "name,group",
    [
        ("model.visual.blocks.0.attn.qkv.weight", "vision"),
        ("model.visual.merger.mlp.0.weight", "connector"),
        ("model.language_model.layers.0.mlp.up_proj.weight", "llm"),
        ("lm_head.weight", "llm"),
        ("vision_model.encoder.layers.0.attn.qkv.weight", "vision"),  # InternVL remote code
        ("mlp1.1.weight", "connector"),
        ("language_model.model.layers.0.self_attn.q_proj.weight", "llm"),
        ("model.vision_tower.encoder.layers.0.mlp.fc1.weight", "vision"),  # LLaVA-style
        ("model.multi_modal_projector.linear_1.weight", "connector"),
        ("model.visualizer.weight", "llm"),  # a component match, not a substring match
    ],
)
def test_parameter_names_map_to_their_group(name, group):
    assert parameter_group(name) == group


@pytest.mark.parametrize("family", ["Llava", "InternVL"])
def test_real_llava_style_models_have_all_three_groups(family):
    text = dict(model_type="qwen2", hidden_size=64, num_hidden_layers=1, num_attention_heads=2,
                num_key_value_heads=1, intermediate_size=64, vocab_size=300)
    if family == "Llava":
        vision = dict(model_type="clip_vision_model", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32, image_size=28, patch_size=14)
        config = transformers.LlavaConfig(vision_config=vision, text_config=text)
        model_class = transformers.LlavaForConditionalGeneration
    else:
        vision = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                      image_size=[28, 28], patch_size=[14, 14])
        config = transformers.InternVLConfig(vision_config=vision, text_config=text)
        model_class = transformers.InternVLForConditionalGeneration
    with torch.device("meta"):
        model = model_class(config)
    report = apply_freeze(model, FreezeConfig(train_vision=False, train_connector=True, train_llm=False))
    assert all(report.frozen[g] > 0 for g in ("vision", "llm"))
    assert report.trainable == {"vision": 0, "connector": report.trainable["connector"], "llm": 0}
    assert report.trainable["connector"] > 0


def test_connector_only_training_leaves_vision_and_llm_weights_untouched():
    model = tiny_qwen25_vl()
    apply_freeze(model, FreezeConfig(train_vision=False, train_connector=True, train_llm=False))
    before = snapshot(model)
    train_a_few_steps(model)
    for name, parameter in model.named_parameters():
        changed = not torch.equal(before[name], parameter.detach())
        assert changed == (parameter_group(name) == "connector"), name


def test_all_groups_trainable_moves_the_vision_tower_too():
    model = tiny_qwen25_vl()
    apply_freeze(model, FreezeConfig())
    before = snapshot(model)
    train_a_few_steps(model)
    moved = {parameter_group(n) for n, p in model.named_parameters() if not torch.equal(before[n], p.detach())}
    assert moved == {"vision", "connector", "llm"}


def test_only_trainable_parameters_reach_the_optimizer():
    model = tiny_qwen25_vl()
    apply_freeze(model, FreezeConfig(train_vision=False))
    handed = {id(p) for p in trainable_parameters(model)}
    expected = {id(p) for n, p in model.named_parameters() if parameter_group(n) != "vision"}
    assert handed == expected


def test_connector_only_on_a_text_model_is_refused_by_group_name():
    model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(
        hidden_size=64, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=64, vocab_size=300))
    with pytest.raises(ValueError, match="connector"):
        apply_freeze(model, FreezeConfig(train_vision=False, train_connector=True, train_llm=False))
