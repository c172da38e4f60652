"""Data parallelism on one node: N engine replicas, each in its own process on its own group of GPUs.

A 38B model at tensor parallelism 4 on an 8-GPU node runs as two replicas (`--data-parallel-size 2
--tensor-parallel-size 4`): replica i sees GPUs [4i, 4i+4) through CUDA_VISIBLE_DEVICES, so its engine
does tensor parallelism inside its group and never touches the other. The parent streams: it keeps each
replica supplied with up to a window of requests (the samples of one item go to one replica together, so
prefix caching still shares their prompt), and hands on each output the moment a replica finishes it.
Every request carries its own seed, so the tokens do not depend on which replica drew them.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any, Hashable, Iterator

from harness.config import SamplingSettings
from harness.engines import Engine, EngineOutput, EngineRequest, Feed, PullFeed


class DataParallelError(RuntimeError):
    """A replica failed; the message names it and carries its traceback."""


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [d.strip() for d in listed.split(",") if d.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def gpu_groups(gpus: list[str], replicas: int, tensor_parallel_size: int) -> list[list[str]]:
    """Disjoint groups of `tensor_parallel_size` GPUs, one per replica; no GPUs (CPU) gives empty groups."""
    if not gpus:
        return [[] for _ in range(replicas)]
    needed = replicas * tensor_parallel_size
    if len(gpus) < needed:
        raise DataParallelError(f"--data-parallel-size {replicas} × --tensor-parallel-size {tensor_parallel_size} "
                                f"needs {needed} GPUs, but {len(gpus)} are visible ({','.join(gpus)})")
    return [gpus[i * tensor_parallel_size:(i + 1) * tensor_parallel_size] for i in range(replicas)]


def _worker(connection: Connection, kind: str, model: str, options: dict[str, Any], gpus: list[str] | None) -> None:
    """One replica: streams whatever the parent sends (("start", sampling), ("add", items), ("stop",), ("close",))."""
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    try:
        from harness.engines import create_engine

        engine = create_engine(kind, model, **options)
        connection.send(("ready", (engine.max_model_len, int(getattr(engine, "window", 0) or 64))))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        connection.send(("error", traceback.format_exc()))
        return
    local = Feed()
    state = {"stopped": False, "closed": False}

    def take(message: tuple) -> None:
        if message[0] == "add":
            for tag, request in message[1]:
                local.push(tag, request)
        elif message[0] == "stop":  # the parent's stream ended (or was abandoned): nothing queued is wanted
            state["stopped"] = True
            local.clear()
        elif message[0] == "close":
            state["closed"] = state["stopped"] = True

    def pull() -> tuple[Hashable, EngineRequest] | None:
        while connection.poll(0):
            take(connection.recv())
        return local.pull()

    while not state["closed"]:
        message = connection.recv()
        if message[0] != "start":
            take(message)
            continue
        sampling, state["stopped"] = message[1], False
        try:
            while not state["stopped"] or len(local):
                for tag, output in engine.stream(PullFeed(pull), sampling):
                    connection.send(("done", (tag, output)))
                if not state["stopped"] and not len(local):
                    take(connection.recv())  # nothing in flight: wait for more work or the end of the stream
            connection.send(("stopped", None))
        except BaseException:  # noqa: BLE001
            connection.send(("error", traceback.format_exc()))
    engine.close()
    connection.send(("closed", None))


class DataParallelEngine(Engine):
    """`replicas` engines of one kind, in worker processes; the engine interface over all of them."""

    def __init__(self, kind: str, model: str, replicas: int, **options: Any):
        from transformers import AutoTokenizer

        self.name = kind
        self.replicas = replicas
        gpus = visible_gpus()
        groups = gpu_groups(gpus, replicas, int(options.get("tensor_parallel_size", 1) or 1))
        context = multiprocessing.get_context("spawn")
        self.connections: list[Connection] = []
        self.processes = []
        for index in range(replicas):
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, kind, model, options, groups[index] if gpus else None),
                                      name=f"harness-replica-{index}")
            process.start()
            child.close()
            self.connections.append(parent)
            self.processes.append(process)
        lengths, windows = [], []
        try:
            for index in range(replicas):
                kind_, payload = self._receive(index)
                if kind_ == "error":
                    raise DataParallelError(f"replica {index} of {replicas} failed to start:\n{payload}")
                lengths.append(payload[0])
                windows.append(payload[1])
        except BaseException:
            self.close()
            raise
        self.max_model_len = min(lengths)
        self.window = sum(windows)
        self.per_replica = windows
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=bool(options.get("trust_remote_code")))

    def _receive(self, index: int) -> tuple[str, Any]:
        try:
            return self.connections[index].recv()
        except (EOFError, ConnectionResetError) as exc:
            code = self.processes[index].exitcode
            raise DataParallelError(f"replica {index} of {self.replicas} died (exit code {code})") from exc

    def stream(self, feed: Feed, sampling: SamplingSettings) -> Iterator[tuple[Hashable, EngineOutput]]:
        counts = [0] * self.replicas
        for connection in self.connections:
            connection.send(("start", sampling))
        try:
            while True:
                for index in range(self.replicas):
                    items = []
                    while counts[index] + len(items) < self.per_replica[index] and (item := feed.pull()) is not None:
                        items.append(item)
                    if items:
                        self.connections[index].send(("add", items))
                        counts[index] += len(items)
                if not any(counts):
                    return
                for connection in wait([c for c, n in zip(self.connections, counts) if n]):
                    index = self.connections.index(connection)
                    kind, payload = self._receive(index)
                    if kind == "error":
                        raise DataParallelError(f"generation failed on replica {index} of {self.replicas}:\n{payload}")
                    counts[index] -= 1
                    yield payload
        finally:
            for index, connection in enumerate(self.connections):
                try:
                    connection.send(("stop",))
                    while True:  # drain what the replica still sends, up to its "stopped"
                        kind, payload = self._receive(index)
                        if kind in ("stopped", "error"):
                            break
                except (BrokenPipeError, OSError, DataParallelError):
                    pass

    def close(self) -> None:
        for connection, process in zip(self.connections, self.processes):
            if process.is_alive():
                try:
                    connection.send(("close",))
                    if connection.poll(60):
                        connection.recv()
                except (BrokenPipeError, EOFError, ConnectionResetError, OSError):
                    pass
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
            connection.close()
