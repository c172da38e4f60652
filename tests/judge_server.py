"""A scripted OpenAI-compatible server on 127.0.0.1 for judge tests and server-engine tests.

It is a real HTTP server on a real socket, so the `openai` client, its timeouts and its error
handling run exactly as against vLLM; only the "model" is a rule, which makes verdicts
deterministic and lets a test inject faults request by request. It answers chat completions
(the judge) and text completions (`--engine openai`: the text `complete(prompt)` returns), and
records every request's body and its Authorization header. Faults:

    "ok"         answer normally
    "500"        HTTP 500 with an error body
    "400"        HTTP 400 (a request the server refuses; not worth retrying)
    "timeout"    wait `hang_s` seconds before answering (longer than the client's timeout)
    "malformed"  HTTP 200 whose body is not JSON
    "drop"       close the connection without any response
    "no_verdict" a well-formed reply that contains no VERDICT line

`faults` is consumed one entry per POST; when it runs out, requests are answered normally.
The default rule answers CORRECT when the reference text occurs in the candidate block.
`pause_after(n)` holds every POST after the n-th unanswered until `resume()` (a run stopped
mid-way, for as long as a test needs).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from typing import Callable

from loopback import LoopbackServer, QuietHandler

_BLOCK = r"<<<{name} (\w+)>>>\n(.*?)\n<<<END {name} \1>>>"


def block(text: str, name: str) -> str | None:
    """The content of a marked block in the judge prompt (e.g. "CANDIDATE")."""
    m = re.search(_BLOCK.format(name=name), text, re.DOTALL)
    return m.group(2) if m else None


def boxed_answer(prompt: str) -> str:
    """A stand-in for a reasoning model: a short thought, then a boxed answer."""
    return " Let me count.</think> The answer is \\boxed{3}."


def containment_rule(system: str, user: str) -> str:
    """A deterministic stand-in for a judge: correct when the reference occurs in the candidate."""
    reference = (block(user, "REFERENCE") or "").strip().lower()
    candidate = (block(user, "CANDIDATE") or "").lower()
    verdict = "CORRECT" if reference and reference in candidate else "INCORRECT"
    return f"The candidate {'gives' if verdict == 'CORRECT' else 'does not give'} the reference.\nVERDICT: {verdict}"


class JudgeServer:
    def __init__(self, decide: Callable[[str, str], str] = containment_rule,
                 faults: list[str] | None = None, hang_s: float = 3.0,
                 complete: Callable[[str], str] = boxed_answer) -> None:
        self.decide = decide
        self.complete = complete
        self.faults = list(faults or [])
        self.hang_s = hang_s
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []  # the Authorization header of every request, GET and POST
        self._lock = threading.Lock()
        self._paused_after: int | None = None
        self._released = threading.Event()
        self._released.set()
        server = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with server._lock:
                    server.authorizations.append(self.headers.get("Authorization"))
                if self.path.rstrip("/").endswith("/models"):
                    self.reply_json(200, {"object": "list", "data": [{"id": "scripted-judge", "object": "model"}]})
                else:
                    self.reply_json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.read_body() or b"{}")
                with server._lock:
                    server.requests.append(body)
                    server.authorizations.append(self.headers.get("Authorization"))
                    fault = server.faults.pop(0) if server.faults else "ok"
                    held = server._paused_after is not None and len(server.requests) > server._paused_after
                if held:
                    server._released.wait()
                if fault == "500":
                    return self.reply_json(500, {"error": {"message": "scripted failure", "type": "server_error"}})
                if fault == "400":
                    return self.reply_json(400, {"error": {"message": "scripted refusal", "type": "invalid_request"}})
                if fault == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if fault == "malformed":
                    return self.reply(200, b'{"id": "x", "choices": [ this is not json')
                if fault == "timeout":
                    time.sleep(server.hang_s)
                if self.path.rstrip("/").endswith("/completions") and "messages" not in body:
                    return self.reply_json(200, {
                        "id": f"cmpl-{len(server.requests)}", "object": "text_completion",
                        "created": int(time.time()), "model": body.get("model", "scripted-judge"),
                        "choices": [{"index": 0, "text": server.complete(str(body.get("prompt", ""))),
                                     "finish_reason": "stop", "logprobs": None}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    })
                messages = body.get("messages", [])
                system = next((m["content"] for m in messages if m["role"] == "system"), "")
                user = next((m["content"] for m in messages if m["role"] == "user"), "")
                text = "I cannot decide." if fault == "no_verdict" else server.decide(system, user)
                self.reply_json(200, {
                    "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion",
                    "created": int(time.time()), "model": body.get("model", "scripted-judge"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                })

        self._server = LoopbackServer(Handler)
        self.port = self._server.port
        self.url = f"{self._server.url}/v1"

    def pause_after(self, count: int) -> None:
        """Answer `count` more POSTs, then hold the rest until `resume()`."""
        with self._lock:
            self._paused_after = len(self.requests) + count
            self._released.clear()

    def resume(self) -> None:
        with self._lock:
            self._paused_after = None
        self._released.set()

    def __enter__(self) -> "JudgeServer":
        self._server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.resume()
        self._server.close()


if __name__ == "__main__":
    with JudgeServer() as judge_server:
        print(f"scripted judge listening on {judge_server.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
