"""Tiny random models built locally in seconds: the CPU test bed for engines, modes and the trainer.

A random model says random things, which proves nothing about bans or stops unless the things we ban
are likely. So the output layer is rigged: every token embedding carries a constant component on
hidden dimension 0, which survives to the final norm, and the lm_head rows of chosen tokens ("Wait",
" Hmm", "</think>", ...) put weight on that dimension — a per-token logit bias without a bias tensor.
The other dimensions keep a real dependence on the prompt.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TEXT_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
VISION_SPECIALS = ["<|vision_start|>", "<|image_pad|>", "<|vision_end|>", "<|video_pad|>"]

# Words the corpus repeats so that BPE learns them as whole tokens (with and without a leading space).
_WORDS = [
    "Wait", "wait", "Waiting", "Hmm", "hmm", "Alternatively", "alternatively", "But", "However", "check",
    "verify", "again", "Let", "me", "think", "the", "answer", "is", "So", "because", "count", "shapes",
    "red", "blue", "circle", "square", "bar", "chart", "value", "boxed", "Answer", "option", "step",
]
_CORPUS_LINES = [
    "Let me think step by step. Wait, the answer is 12. Hmm, let me check again.",
    "Alternatively, count the shapes: 3 red circles and 2 blue squares. So the answer is \\boxed{5}.",
    "However, the bar chart value is 40. But wait, verify the option B. Answer: B",
    "Hmm, 7 + 5 = 12. Waiting is not needed; the answer is \\boxed{12}.",
    "Question: What is 3 * 4? Options: A. 10 B. 12 C. 14 D. 16",
    "</think> The answer is \\boxed{A}.",
]


def _corpus() -> list[str]:
    lines = []
    for i in range(200):
        lines.extend(_CORPUS_LINES)
        lines.append(" ".join(_WORDS[(i + k) % len(_WORDS)] for k in range(12)))
        lines.append(" ".join(f" {w}" for w in _WORDS))
        lines.append(f"{i} + {i % 7} = {i + i % 7}. 0123456789")
    return lines


def build_tokenizer(vision: bool = False, vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE with ChatML specials and a ChatML chat template."""
    specials = TEXT_SPECIALS + (VISION_SPECIALS if vision else [])
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        additional_special_tokens=specials[1:],
    )
    fast.chat_template = CHATML_TEMPLATE
    return fast


def _rig_logits(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, biases: dict[str, float],
                seed: int) -> None:
    """Give chosen tokens a prompt-independent logit bonus (see the module docstring)."""
    generator = torch.Generator().manual_seed(seed)
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    with torch.no_grad():
        embed.normal_(0.0, 0.02, generator=generator)
        embed[:, 0] = 0.5  # the constant component; dominates the RMS, so ≈ sqrt(hidden) after norm
        head.normal_(0.0, 0.25, generator=generator)
        head[:, 0] = 0.0
        scale = embed.shape[1] ** 0.5
        for text, bonus in biases.items():
            for token_id in tokenizer.encode(text, add_special_tokens=False)[:1]:
                head[token_id, 0] = bonus / scale


DEFAULT_BIASES = {"Wait": 4.0, " Hmm": 3.5, " wait": 3.5, "Alternatively": 3.0, "</think>": 4.0,
                  "<|im_end|>": 2.5, " the": 2.0, " \\": 2.5, "boxed": 2.5, "{": 2.0, "}": 2.0,
                  "1": 2.0, "2": 2.0}


def build_tiny_text_model(directory: str | Path, seed: int = 0,
                          biases: dict[str, float] | None = None) -> Path:
    """A Qwen2 causal LM (hidden 64, 2 layers, head_dim 32) with a local tokenizer, saved to `directory`."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(vision=False)
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        torch_dtype="float32",
    )
    model = Qwen2ForCausalLM(config)
    _rig_logits(model, tokenizer, DEFAULT_BIASES if biases is None else biases, seed)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


def build_long_tail_model(directory: str | Path, think_end_probability: float, end_probability: float,
                          answer_end_probability: float = 1 / 16, seed: int = 0) -> Path:
    """A tiny text model shaped like a thinking model: long-tailed thoughts, short answers.

    While it thinks, every generated token is `</think>` with about `think_end_probability` and the end
    of the turn with about `end_probability`, whatever came before; so thoughts (and whole responses
    under `cap`) are geometric in length, from a few tokens to any budget. Once a `</think>` is in the
    context (generated, or inserted by the force policy), the turn ends with about
    `answer_end_probability` per token and no further `</think>` comes. The model is the tiny Qwen2
    of `build_tiny_text_model`; the probabilities are set by calibrating the output layer on random
    contexts (see `_wire_thinking_shape` for the circuit that notices a `</think>`).
    """
    directory = Path(directory)
    build_tiny_text_model(directory, seed=seed, biases={})
    from transformers import AutoTokenizer, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = Qwen2ForCausalLM.from_pretrained(directory, rope_parameters={"rope_type": "default", "rope_theta": 1e9})
    _wire_thinking_shape(model, tokenizer.convert_tokens_to_ids("</think>"))
    _calibrate_ends(model, tokenizer, think_end_probability, end_probability, answer_end_probability, seed)
    model.save_pretrained(directory, safe_serialization=True)
    return directory


def _wire_thinking_shape(model: torch.nn.Module, think_close: int) -> None:
    """Make hidden dimension 1 of the final state say "a `</think>` came before" (0 before, about the size
    of dimension 0 after).

    The `</think>` embedding alone carries dimension 1. Layer 0's first attention head queries with the
    constant dimension 0 and keys with dimension 1, so it attends to a `</think>` wherever it is (on the
    rotary pair of lowest frequency, made negligible by a huge rope theta), and its value and output
    projection copy that into the residual's dimension 1; nothing else writes there. Every other
    weight stays random.
    """
    config = model.config
    head_dim = config.head_dim
    embed = model.get_input_embeddings().weight
    lane = head_dim // 2 - 1  # the rotary pair (lane, lane + head_dim / 2) with the lowest frequency
    with torch.no_grad():
        embed[:, 1] = 0.0
        embed[think_close, 1] = 0.5
        normed = embed[think_close].pow(2).mean().add(config.rms_norm_eps).rsqrt()  # RMS-norm scale of </think>
        normal = embed[0].pow(2).mean().add(config.rms_norm_eps).rsqrt()  # ... and of any other token (≈ the same)
        attention = model.model.layers[0].self_attn
        for head in range(config.num_attention_heads):  # no head but the first looks at the lane
            for row in (head * head_dim + lane, head * head_dim + lane + head_dim // 2):
                attention.q_proj.weight[row] = 0.0
                attention.q_proj.bias[row] = 0.0
        attention.q_proj.weight[lane, 0] = 9.0 / (0.5 * normal)
        for row in (lane, lane + head_dim // 2, 0):
            attention.k_proj.weight[row] = 0.0
            attention.k_proj.bias[row] = 0.0
            attention.v_proj.weight[row] = 0.0
            attention.v_proj.bias[row] = 0.0
        attention.k_proj.weight[lane, 1] = 9.0 / (0.5 * normed)  # score 81 / sqrt(head_dim) on a </think>
        attention.v_proj.weight[0, 1] = 1.0 / (0.5 * normed)  # value lane 0 = 1 on a </think>, else 0
        attention.o_proj.weight[1] = 0.0
        for head in range(config.num_attention_heads):
            attention.o_proj.weight[:, head * head_dim] = 0.0
        attention.o_proj.weight[1, 0] = 0.5
        model.model.layers[1].self_attn.o_proj.weight[1] = 0.0
        for layer in model.model.layers:
            layer.mlp.down_proj.weight[1] = 0.0


def _calibrate_ends(model: torch.nn.Module, tokenizer: PreTrainedTokenizerFast, think_end: float, end: float,
                    answer_end: float, seed: int, rounds: int = 12) -> None:
    """Set the output rows of `</think>` and of the end of turn so that their mean probabilities on random
    contexts (before and after a `</think>`) are the ones asked for."""
    think_close = tokenizer.convert_tokens_to_ids("</think>")
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    generator = torch.Generator().manual_seed(seed + 1)
    ordinary = torch.tensor([i for i in range(len(tokenizer)) if i not in tokenizer.all_special_ids])
    contexts = ordinary[torch.randint(len(ordinary), (8, 768), generator=generator)]
    cut = 256
    contexts[:, cut] = think_close
    head = model.get_output_embeddings().weight
    with torch.no_grad():
        head[think_close] = 0.0
        head[eos] = 0.0
        final = model.model(contexts).last_hidden_state  # the final-norm output the head reads
        before, after = final[:, :cut], final[:, cut + 1:]
        logits_before, logits_after = model.lm_head(before), model.lm_head(after)
        rest_before = logits_before.logsumexp(-1)  # both rows are zero: each adds e^0 to the sum, negligibly
        rest_after = logits_after.logsumexp(-1)
        # One weight per (row, dimension): dimension 0 is on everywhere, dimension 1 only after a </think>.
        weights = {"think0": 0.0, "eos0": 0.0, "eos1": 0.0}
        for _ in range(rounds):
            think_logit = weights["think0"] * before[..., 0]
            eos_logit = weights["eos0"] * before[..., 0]
            p_think = (think_logit - rest_before).exp().mean().item()
            p_end = (eos_logit - rest_before).exp().mean().item()
            weights["think0"] += math.log(think_end / p_think) / before[..., 0].mean().item()
            weights["eos0"] += math.log(end / p_end) / before[..., 0].mean().item()
            eos_after = weights["eos0"] * after[..., 0] + weights["eos1"] * after[..., 1]
            p_answer = (eos_after - rest_after).exp().mean().item()
            weights["eos1"] += math.log(answer_end / p_answer) / after[..., 1].mean().item()
        head[think_close, 0] = weights["think0"]
        head[think_close, 1] = -40.0 / after[..., 1].mean().item()  # no second </think> once one is there
        head[eos, 0] = weights["eos0"]
        head[eos, 1] = weights["eos1"]


def build_tiny_vl_model(directory: str | Path, seed: int = 0,
                        biases: dict[str, float] | None = None) -> Path:
    """A Qwen2.5-VL model (text hidden 64 / 2 layers, vision depth 2) with processor files, saved to `directory`."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(vision=True)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in VISION_SPECIALS + TEXT_SPECIALS}
    torch.manual_seed(seed)
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 32,
            "max_position_embeddings": 4096,
            "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
            "tie_word_embeddings": False,
            "eos_token_id": ids["<|im_end|>"],
            "bos_token_id": ids["<|endoftext|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 1,
            "out_hidden_size": 64,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [1],
            "in_channels": 3,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
        torch_dtype="float32",
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    _rig_logits(model, tokenizer, DEFAULT_BIASES if biases is None else biases, seed)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    preprocessor = {
        "image_processor_type": "Qwen2VLImageProcessor",
        "processor_class": "Qwen2_5_VLProcessor",
        "do_resize": True,
        "do_rescale": True,
        "do_normalize": True,
        "do_convert_rgb": True,
        "rescale_factor": 1 / 255,
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "min_pixels": 56 * 56,
        "max_pixels": 28 * 28 * 64,
        "patch_size": 14,
        "temporal_patch_size": 2,
        "merge_size": 2,
    }
    (directory / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2))
    (directory / "chat_template.json").write_text(json.dumps({"chat_template": CHATML_TEMPLATE}))
    return directory
