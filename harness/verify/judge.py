"""The LLM judge: an OpenAI-compatible chat endpoint asked, at temperature 0, whether a final
answer matches the gold.

Its prompt is a versioned jinja2 file in prompts/ whose SHA-256 keys both the manifest and the
on-disk verdict cache. Model text reaches the judge only inside markers carrying a nonce derived
from the item, and only the final answer part (never the thought). Before that, untrusted text is
defanged: it can contain neither our marker brackets, nor chat-template control tokens (which a
server would tokenize as real turn boundaries), nor a parseable "VERDICT:" line (a small judge
that parrots its input would otherwise hand us the candidate's own claimed verdict). A failed
call is an error, not a verdict: it is not cached, so the next run asks again, and it never
counts as wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.sandbox
import openai

from harness.engines.deadline import DeadlineExceeded, DeadlineLoop
from harness.verify.items import JudgeConfig

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
JUDGE_VIEW_CHARS = 4000  # the judge sees at most this much of the answer part (its tail)
_VERDICT = re.compile(r"VERDICT\s*[:：]\s*\**\s*\b(INCORRECT|CORRECT)\b", re.IGNORECASE)
# Runs of angle brackets, ASCII or look-alike (fullwidth, small, single and double guillemets):
# three in a row could read as one of our markers.
_MARKER_LIKE = re.compile(r"[<＜﹤‹«〈⟨]{3,}|[>＞﹥›»〉⟩]{3,}")
_OPENERS = frozenset("<＜﹤‹«〈⟨")
# Chat-template control tokens: ChatML and friends (<|im_end|>), Llama/Mistral ([INST], <s>),
# Gemma (<start_of_turn>), and think tags. In a message's content, a server's tokenizer turns
# them into the real special tokens, i.e. a forged turn boundary.
_CONTROL_TOKEN = re.compile(
    r"<\s*\|[^<>|]{0,64}\|\s*>|</?\s*s\s*>|\[/?\s*INST\s*\]|<<\s*/?\s*SYS\s*>>"
    r"|<\s*/?\s*(?:start_of_turn|end_of_turn|think|bos|eos|pad)\s*>",
    re.IGNORECASE,
)
# The word the reply parser looks for, ASCII or fullwidth, in any case.
_VERDICT_WORD = re.compile(r"[VＶvｖ][EＥeｅ][RＲrｒ][DＤdｄ][IＩiｉ][CＣcｃ][TＴtｔ]")
FENCE_VERSION = "2"  # how untrusted text is defanged; part of the cache key


@dataclass(frozen=True)
class JudgeRequest:
    question: str
    gold: str
    response: str  # the response's final answer part
    choices: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class JudgeResult:
    correct: bool | None
    rationale: str | None
    error: str | None = None
    cached: bool = False


def parse_verdict(text: str) -> bool | None:
    """The judge's last "VERDICT: CORRECT|INCORRECT" line; None when it gave none."""
    last = None
    for m in _VERDICT.finditer(text):
        last = m
    if last is None:
        return None
    return last.group(1).upper() == "CORRECT"


def _neutral_token(match: re.Match) -> str:
    return match.group().replace("<", "‹").replace(">", "›").replace("[", "⟦").replace("]", "⟧")


def defang(text: str) -> str:
    """Untrusted text made inert for the judge prompt: it keeps its meaning for a reader, but
    cannot fake a marker, a chat turn or a verdict line."""
    text = _CONTROL_TOKEN.sub(_neutral_token, text)
    text = _MARKER_LIKE.sub(lambda m: ("‹" if m.group()[0] in _OPENERS else "›") * 2, text)
    return _VERDICT_WORD.sub("VERDICT-CLAIM", text)


class JudgePrompt:
    """The rendered judge prompt (system + user) for one request, from a jinja2 file."""

    def __init__(self, name: str = "judge_v2.j2") -> None:
        path = Path(name) if Path(name).is_absolute() else PROMPTS_DIR / name
        if not path.is_file():
            raise FileNotFoundError(f"judge prompt {name!r} not found (looked for {path})")
        self.name = path.name
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"judge prompt {path}: not UTF-8 text ({exc.reason})") from None
        self.sha256 = hashlib.sha256(source.encode("utf-8")).hexdigest()
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self._path = path
        try:
            self._template = env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"judge prompt {path}:{exc.lineno}: not a valid jinja2 template ({exc.message})") from None
        # A prompt that cannot render fails here, once, before any verdict is asked for or cached.
        self.render(JudgeRequest(question="question", gold="gold", response="response", choices=(("A", "a"),)))

    def render(self, request: JudgeRequest) -> tuple[str, str]:
        """(system, user) for `request`; a template that fails to render is a ValueError naming the file."""
        try:
            return self._render(request)
        except jinja2.TemplateError as exc:
            raise ValueError(f"judge prompt {self._path}: cannot render ({type(exc).__name__}: {exc}); fix the "
                             "template") from None

    def _render(self, request: JudgeRequest) -> tuple[str, str]:
        response = request.response[-JUDGE_VIEW_CHARS:]
        nonce = hashlib.sha256(
            json.dumps([request.question, request.gold, response]).encode("utf-8")
        ).hexdigest()[:16]
        variables = {
            "question": defang(request.question),
            "gold": defang(request.gold),
            "response": defang(response),
            "choices": {k: defang(v) for k, v in request.choices},
            "nonce": nonce,
        }
        module = self._template.make_module(variables)
        return str(getattr(module, "system", "")).strip(), str(module).strip()


class VerdictCache:
    """Successful judge verdicts on disk (SQLite), keyed by prompt hash, model and the inputs."""

    def __init__(self, directory: str) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self.path = Path(directory) / "judge_cache.sqlite"
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, correct INTEGER NOT NULL,"
            " rationale TEXT, model TEXT, prompt_sha256 TEXT, created REAL)"
        )
        self._db.commit()
        self._lock = threading.Lock()

    @staticmethod
    def key(prompt_sha256: str, model: str, request: JudgeRequest) -> str:
        blob = json.dumps([FENCE_VERSION, prompt_sha256, model, request.question, request.gold,
                           request.response[-JUDGE_VIEW_CHARS:], list(request.choices)])
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> tuple[bool, str | None] | None:
        with self._lock:
            row = self._db.execute("SELECT correct, rationale FROM verdicts WHERE key = ?", (key,)).fetchone()
        return (bool(row[0]), row[1]) if row else None

    def put(self, key: str, correct: bool, rationale: str | None, model: str, prompt_sha256: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)",
                (key, int(correct), rationale, model, prompt_sha256, time.time()),
            )
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Retryable(Exception):
    pass


class Judge:
    """Bounded-concurrency, retrying, caching client for one judge model."""

    def __init__(self, config: JudgeConfig) -> None:
        self.config = config
        self.prompt = JudgePrompt(config.prompt)
        self.cache = VerdictCache(config.cache_dir) if config.cache_dir else None
        # Every attempt ends by a wall-clock deadline (a read timeout alone lets a trickling server hold a
        # request for ever): calls run on a private event loop and are cancelled at `timeout_s`.
        self._loop = DeadlineLoop()
        self._client = openai.AsyncOpenAI(
            base_url=config.base_url, api_key=config.api_key, timeout=config.timeout_s, max_retries=0
        )
        self.calls = 0  # HTTP attempts made (for reports and tests)
        self._count_lock = threading.Lock()

    def manifest(self) -> dict:
        return {
            "policy": self.config.policy,
            "model": self.config.model,
            "base_url": self.config.base_url,
            "prompt": self.prompt.name,
            "prompt_sha256": self.prompt.sha256,
            "temperature": 0.0,
            "max_tokens": self.config.max_tokens,
        }

    def judge(self, requests: list[JudgeRequest]) -> list[JudgeResult]:
        results: list[JudgeResult | None] = [None] * len(requests)
        todo: list[int] = []
        keys = [VerdictCache.key(self.prompt.sha256, self.config.model, r) for r in requests]
        for i, key in enumerate(keys):
            hit = self.cache.get(key) if self.cache else None
            if hit is not None:
                results[i] = JudgeResult(hit[0], hit[1], None, cached=True)
            else:
                todo.append(i)
        if todo:
            with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
                fresh = list(pool.map(lambda i: self._ask(requests[i]), todo))
            for i, result in zip(todo, fresh):
                results[i] = result
                if self.cache and result.error is None and result.correct is not None:
                    self.cache.put(keys[i], result.correct, result.rationale, self.config.model,
                                   self.prompt.sha256)
        return results  # type: ignore[return-value]

    def _ask(self, request: JudgeRequest) -> JudgeResult:
        system, user = self.prompt.render(request)
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        error = "no attempt made"
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                time.sleep(min(30.0, self.config.backoff_s * 2 ** (attempt - 1)))
            with self._count_lock:
                self.calls += 1
            try:
                return self._once(messages)
            except _Retryable as exc:
                error = str(exc)
            except openai.APIStatusError as exc:
                error = f"HTTP {exc.status_code}: {str(exc)[:200]}"
                if exc.status_code < 500 and exc.status_code not in (408, 409, 429):
                    break  # a request the server will never accept: retrying cannot help
            except (openai.APIConnectionError, DeadlineExceeded) as exc:  # timeouts and dropped connections
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
            except (openai.APIResponseValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
                error = f"malformed response: {type(exc).__name__}: {str(exc)[:200]}"
        return JudgeResult(None, None, error)

    def _once(self, messages: list[dict]) -> JudgeResult:
        kwargs = {}
        if self.config.extra_body:
            kwargs["extra_body"] = self.config.extra_body
        completion = self._loop.call(lambda: self._client.chat.completions.create(
            model=self.config.model,
            messages=messages,
            temperature=0.0,
            max_tokens=self.config.max_tokens,
            **kwargs,
        ), self.config.timeout_s)
        if not completion.choices:
            raise _Retryable("malformed response: no choices")
        text = completion.choices[0].message.content
        if not isinstance(text, str):
            raise _Retryable("malformed response: no message content")
        verdict = parse_verdict(text)
        if verdict is None:
            raise _Retryable(f"no VERDICT line in the judge's reply: {text[-200:]!r}")
        return JudgeResult(verdict, text.strip()[-500:])

    def close(self) -> None:
        self._loop.run(self._client.close())
        self._loop.close()
        if self.cache:
            self.cache.close()
