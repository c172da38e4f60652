"""Ban sets, keyword presets, residual counting, and the template per family."""

from __future__ import annotations

from transformers import AutoTokenizer

from harness.modes import KEYWORD_PRESETS, build_ban_set, count_keywords, resolve_keywords
from harness.prompts import PromptBuilder, detect_family


def test_presets():
    assert resolve_keywords("paper") == ["wait", "alternatively", "hmm"]
    assert len(KEYWORD_PRESETS["nowait17"]) == 17
    assert resolve_keywords("Wait, HMM") == ["wait", "hmm"]


def test_ban_set_scans_the_whole_vocabulary_minus_exclusions(tiny_text_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_text_dir)
    ban = build_ban_set(tokenizer, ["wait"], exclude=[])
    texts = [tokenizer.decode([i]) for i in ban.token_ids]
    assert all("wait" in t.lower() for t in texts)
    expected = {i for i in range(len(tokenizer)) if "wait" in tokenizer.decode([i]).lower()
                and i not in tokenizer.all_special_ids}
    assert set(ban.token_ids) == expected
    narrower = build_ban_set(tokenizer, ["wait"], exclude=["waiting"])
    assert narrower.size == ban.size - sum(t.strip().lower() == "waiting" for t in texts)
    assert narrower.sha256 != ban.sha256
    special = build_ban_set(tokenizer, ["think"], exclude=[])
    assert tokenizer.convert_tokens_to_ids("</think>") not in special.token_ids


def test_residual_keywords_are_counted_case_insensitively():
    assert count_keywords("W ait. Wait, wait... HMM", ["wait", "hmm"]) == {"wait": 2, "hmm": 1}


def test_family_detection(tiny_text_dir, tiny_vl_dir):
    assert detect_family(tiny_vl_dir, AutoTokenizer.from_pretrained(tiny_vl_dir)) == "qwen_vl"
    assert detect_family(tiny_text_dir, AutoTokenizer.from_pretrained(tiny_text_dir)) == "chatml"


def test_template_hash_changes_with_the_system_prompt():
    assert PromptBuilder("chatml").sha256 != PromptBuilder("chatml", system="Be brief.").sha256


def test_skywork_template_matches_the_report():
    text = PromptBuilder("skywork").render("Q", num_images=1, think=True)
    assert text == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>human\n<image>\nQ"
                    "<|im_end|>\n<|im_start|>assistant\n<think>\n")


def test_qwen3_nothink_uses_the_family_switch():
    assert PromptBuilder("qwen3").render("Q", think=False).endswith("assistant\n<think>\n\n</think>\n\n")
