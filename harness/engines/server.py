"""Start a local vLLM OpenAI-compatible server for a model, and wait until it answers `/health`.

`--engine openai` without `--engine-url` uses this, and so do the loopback tests. The server runs as
`python -m vllm.entrypoints.openai.api_server` (the `vllm` console script is not usable in every
packaging of vLLM), in its own process group so that closing it also ends its engine subprocesses.
It is started with `--trust-request-chat-template`, which the server engine needs to send image
prompts through the chat endpoint with the harness's own template.

    python -m harness.engines.server --model DIR [--port P] [-- extra vLLM server arguments]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ServerError(RuntimeError):
    """The server did not start or stopped; the message carries the end of its log."""


@dataclass
class LocalServer:
    process: subprocess.Popen
    base_url: str  # ends with /v1, as OpenAI clients expect
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def close(self, grace_s: float = 20.0) -> None:
        """Stop the server and its children (SIGTERM to the group, SIGKILL after `grace_s`)."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass

    def __enter__(self) -> "LocalServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_vllm_server(model: str, host: str = "127.0.0.1", port: int | None = None, args: list[str] | None = None,
                      env: dict[str, str] | None = None, timeout_s: float = 900.0,
                      log_path: str | Path | None = None) -> LocalServer:
    """Launch `vllm.entrypoints.openai.api_server` for `model` and return once it is healthy."""
    port = port or free_port(host)
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="vllm-server-", suffix=".log")
        os.close(handle)
        log_path = Path(name)
    log_path = Path(log_path)
    command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host", host,
               "--port", str(port), "--trust-request-chat-template", *(args or [])]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   env={**os.environ, **(env or {})})
    server = LocalServer(process, f"http://{host}:{port}/v1", log_path)
    try:
        wait_for_health(server, timeout_s)
    except BaseException:
        server.close()
        raise
    return server


def wait_for_health(server: LocalServer, timeout_s: float) -> None:
    health = server.base_url.removesuffix("/v1") + "/health"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            raise ServerError(f"the vLLM server exited with status {code} before it was healthy; "
                              f"log {server.log_path}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    raise ServerError(f"the vLLM server at {health} was not healthy after {timeout_s:.0f} s; "
                      f"log {server.log_path}:\n{server.log_tail()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.engines.server", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="arguments passed on to the vLLM server (after --)")
    options = parser.parse_args(argv)
    extra = options.extra[1:] if options.extra[:1] == ["--"] else options.extra
    server = start_vllm_server(options.model, options.host, options.port, extra)
    print(f"serving {options.model} at {server.base_url} (log {server.log_path}); Ctrl-C stops it", flush=True)
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
