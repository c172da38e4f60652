"""Data parallelism on one node: N engine replicas, each in its own process on its own group of GPUs.

A 38B model at tensor parallelism 4 on an 8-GPU node runs as two replicas (`--data-parallel-size 2
--tensor-parallel-size 4`): replica i sees GPUs [4i, 4i+4) through CUDA_VISIBLE_DEVICES, so its
engine does tensor parallelism inside its group and never touches the other. Each call splits the
requests into N contiguous slices (the samples of one item stay together, so prefix caching still
shares their prompt) and gathers the outputs back in order. Every request carries its own seed, so
the tokens do not depend on which replica drew them.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any

from harness.engines import EngineOutput, EngineRequest, Progress, SamplingSettings


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


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """`parts` contiguous (start, end) slices of range(count), sizes differing by at most one."""
    base, extra = divmod(count, parts)
    bounds, start = [], 0
    for index in range(parts):
        end = start + base + (1 if index < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _worker(connection: Connection, kind: str, model: str, options: dict[str, Any], gpus: list[str] | None) -> None:
    if gpus is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    try:
        from harness.engines import create_engine

        engine = create_engine(kind, model, **options)
        connection.send(("ready", engine.max_model_len))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        connection.send(("error", traceback.format_exc()))
        return
    while True:
        message = connection.recv()
        if message[0] == "close":
            engine.close()
            connection.send(("closed", None))
            return
        _, requests, sampling = message
        try:
            outputs = engine.generate(requests, sampling, lambda n: connection.send(("progress", n)))
            connection.send(("done", outputs))
        except BaseException:  # noqa: BLE001
            connection.send(("error", traceback.format_exc()))


class DataParallelEngine:
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
        lengths = []
        try:
            for index in range(replicas):
                kind_, payload = self._receive(index)
                if kind_ == "error":
                    raise DataParallelError(f"replica {index} of {replicas} failed to start:\n{payload}")
                lengths.append(payload)
        except BaseException:
            self.close()
            raise
        self.max_model_len = min(lengths)
        self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=True)

    def _receive(self, index: int) -> tuple[str, Any]:
        try:
            return self.connections[index].recv()
        except (EOFError, ConnectionResetError) as exc:
            code = self.processes[index].exitcode
            raise DataParallelError(f"replica {index} of {self.replicas} died (exit code {code})") from exc

    def generate(self, requests: list[EngineRequest], sampling: SamplingSettings,
                 progress: Progress | None = None) -> list[EngineOutput]:
        bounds = split(len(requests), self.replicas)
        pending: dict[Connection, int] = {}
        for index, (start, end) in enumerate(bounds):
            if end > start:
                self.connections[index].send(("generate", requests[start:end], sampling))
                pending[self.connections[index]] = index
        results: dict[int, list[EngineOutput]] = {}
        failures = []
        while pending:
            for connection in wait(list(pending)):
                index = pending[connection]
                kind, payload = self._receive(index)
                if kind == "progress":
                    if progress:
                        progress(payload)
                    continue
                del pending[connection]
                if kind == "error":
                    failures.append(f"replica {index} of {self.replicas}:\n{payload}")
                else:
                    results[index] = payload
        if failures:
            raise DataParallelError("generation failed on " + "\n".join(failures))
        return [output for index in sorted(results) for output in results[index]]

    def close(self) -> None:
        for connection, process in zip(self.connections, self.processes):
            if process.is_alive():
                try:
                    connection.send(("close", None))
                    if connection.poll(60):
                        connection.recv()
                except (BrokenPipeError, EOFError, ConnectionResetError, OSError):
                    pass
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()
                process.join(timeout=10)
            connection.close()
