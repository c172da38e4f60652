"""Ban sets, keyword presets, residual counting, and the template per family."""

from __future__ import annotations

from transformers import AutoTokenizer

import re

import pytest

from harness.modes import KEYWORD_PRESETS, KeywordRule, build_ban_set, count_keywords, resolve_keywords
from harness.prompts import PromptBuilder, detect_family


def test_presets():
    assert resolve_keywords("paper") == ["wait", "alternatively", "hmm"]
    assert len(KEYWORD_PRESETS["nowait17"]) == 17
    assert resolve_keywords("Wait, HMM") == ["wait", "hmm"]


def test_substring_ban_set_scans_the_whole_vocabulary_minus_exclusions(tiny_text_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_text_dir)
    ban = build_ban_set(tokenizer, ["wait"], exclude=[], rule="substring")
    texts = [tokenizer.decode([i]) for i in ban.token_ids]
    assert all("wait" in t.lower() for t in texts)
    expected = {i for i in range(len(tokenizer)) if "wait" in tokenizer.decode([i]).lower()
                and i not in tokenizer.all_special_ids}
    assert set(ban.token_ids) == expected
    narrower = build_ban_set(tokenizer, ["wait"], exclude=["waiting"], rule="substring")
    assert narrower.size == ban.size - sum(t.strip().lower() == "waiting" for t in texts)
    assert narrower.sha256 != ban.sha256
    special = build_ban_set(tokenizer, ["think"], exclude=[])
    assert tokenizer.convert_tokens_to_ids("</think>") not in special.token_ids


def test_sentencepiece_tokens_keep_their_leading_space_in_the_ban_set(tmp_path):
    """Decoded alone, "▁Wait" reads "Wait"; the ban set records it as " Wait", apart from the piece "Wait"."""
    import io

    import sentencepiece
    from transformers import LlamaTokenizer

    lines = ["Wait, the answer is four. Wait again, hmm.", "Alternatively we wait and check the sum (Wait) here.",
             "Hmm, wait: the triangle has sides three and four."] * 50
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=360,
                                             model_type="bpe", byte_fallback=True, character_coverage=1.0,
                                             hard_vocab_limit=False, minloglevel=2)
    (tmp_path / "tokenizer.model").write_bytes(model.getvalue())
    tokenizer = LlamaTokenizer.from_pretrained(tmp_path)
    ban = build_ban_set(tokenizer, ["wait", "hmm"], rule="word")
    pieces = tokenizer.convert_ids_to_tokens(list(ban.token_ids))
    assert {"▁Wait", "Wait", "▁hmm"} <= set(pieces)
    assert list(ban.tokens) == [piece.replace("▁", " ") for piece in pieces]


def test_residual_keywords_are_counted_case_insensitively():
    assert count_keywords("W ait. Wait, wait... HMM", ["wait", "hmm"]) == {"wait": 2, "hmm": 1}


def test_residual_words_are_words_under_the_word_rule_and_substrings_under_the_other():
    text = "Await the answer. Kuwait? Waiting... Hmmm, double-check, then check again against it."
    keywords = ["wait", "hmm", "check", "double-check", "again"]
    assert count_keywords(text, keywords) == {"wait": 1, "hmm": 1, "check": 1, "double-check": 1, "again": 1}
    assert count_keywords(text, keywords, rule="substring") == {"wait": 3, "hmm": 1, "check": 1,
                                                                "double-check": 1, "again": 2}


def test_an_empty_keyword_list_bans_and_counts_nothing():
    assert not KeywordRule([]).matches_token("wait") and count_keywords("wait", []) == {}


BANNED_SHAPES = ["wait", " Wait", "WAIT", ".wait", "Waiting", "waited", " waits", "Wait,", "(wait", " Hmm",
                 " hmmm", "Alternatively", " alternatively", "\nWait", "“But", " «Now", "„Oh", "2wait"]
INNOCENT = ["Kuwait", " awaits", " await", " cohort", " unknown", " against", " ahead", " button", " Alcohol",
            " carbohyd", " radiotherapy", " coherence", " prohibit", " acknowledged", " Distributed",
            " contributors", " motherboard", " canyon", " Pharaoh", " Torah", " Deborah", " Ahmed", " snowfall",
            " butterflies", " waitress", " nowhere", " anyway", "Hmmingbird"]


@pytest.mark.parametrize("token", BANNED_SHAPES)
def test_the_word_rule_bans_the_keyword_as_a_word(token):
    assert KeywordRule(KEYWORD_PRESETS["nowait17"]).matches_token(token)


@pytest.mark.parametrize("token", INNOCENT)
def test_the_word_rule_spares_words_that_only_contain_a_keyword(token):
    assert not KeywordRule(KEYWORD_PRESETS["nowait17"]).matches_token(token)
    assert KeywordRule(KEYWORD_PRESETS["nowait17"], "substring").matches_token(token) or token in (" nowhere",)


def test_only_verbs_and_nouns_are_inflected_so_anies_and_nows_stay_allowed():
    rule = KeywordRule(KEYWORD_PRESETS["nowait17"])
    assert [t for t in (" Anies", " nows", "agains", " buts", "maybes") if rule.matches_token(t)] == []
    assert all(rule.matches_token(t) for t in (" verifies", " verified", " others", " checks", " alternatives"))


@pytest.mark.parametrize("preset", ["paper", "nowait17"])
def test_no_banned_token_of_a_real_vocabulary_holds_a_keyword_only_inside_another_word(smollm2_tokenizer, preset):
    keywords = KEYWORD_PRESETS[preset]
    ban = build_ban_set(smollm2_tokenizer, keywords, rule="word")
    substring = build_ban_set(smollm2_tokenizer, keywords, rule="substring")
    assert ban.size < substring.size
    uninflected = {"again", "alternatively", "another", "any", "but", "however", "maybe", "now"}
    forms = set()
    for k in keywords:
        forms.update(k + suffix for suffix in (("",) if k in uninflected else ("", "s", "es", "ed", "d", "ing")))
        if k.endswith("y") and k not in uninflected:
            forms.update((k[:-1] + "ies", k[:-1] + "ied"))
    for text in ban.tokens:
        core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", text).lower()
        assert core in forms or re.fullmatch(r"hmm+|oh+|ah+", core), text
    vocab = {smollm2_tokenizer.decode([i]) for i in range(len(smollm2_tokenizer))}
    for innocent in INNOCENT:
        if innocent in vocab:
            assert innocent not in ban.tokens, innocent
    for wanted in (" Wait", "Wait", " wait", " Hmm"):
        assert wanted in vocab and wanted in ban.tokens, wanted


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
