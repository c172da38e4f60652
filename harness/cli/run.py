"""`harness run`: evaluate a model on benchmarks in one inference mode (see harness.runner).

The flags are derived from the settings declared in harness.config (their help text, choices and
checks), so `run` and `sweep` accept exactly the settings a config file does.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harness.config import ALL_FIELDS, build_config, flag_of, load_yaml

# The embedded default (no --model, no --bench, no --config) is a demo that must finish in minutes on a
# laptop CPU, so it uses a smaller budget than the paper's 16384 unless --budget says otherwise.
EMBEDDED_DEFAULT_BUDGET = 1024


def _engine_arg(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_run_arguments(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One flag per setting of harness.config, except `skip`. Every default is None: an unset flag leaves the
    config file's value (or the setting's default)."""
    parser.add_argument("--config", help="YAML file of settings (flags override it)")
    for name, spec in ALL_FIELDS.items():
        meta = spec.metadata
        if name in skip or not meta.get("cli", True):
            continue
        options: dict[str, Any] = {"dest": name, "help": meta.get("help") or None, "default": None}
        if name == "benchmarks":
            options.update(action="append")
        elif name == "engine_args":
            options.update(action="append", type=_engine_arg, metavar="KEY=VALUE")
        elif spec.type in ("bool", bool):
            options.update(action="store_true")
        else:
            kind = {"int": int, "int | None": int, "float": float}.get(str(spec.type))
            if kind:
                options["type"] = kind
            if meta.get("choices"):
                options["choices"] = list(meta["choices"])
        parser.add_argument(flag_of(name), **options)
    parser.add_argument("--quiet", action="store_true", help="no progress bar or table")
    parser.add_argument("--verbose", action="store_true",
                        help="show the engine's own log on the console (it always goes to engine.log in the run directory)")


def config_from_args(args: argparse.Namespace) -> Any:
    file_values = load_yaml(args.config) if args.config else {}
    flags = {name: getattr(args, name) for name in ALL_FIELDS if hasattr(args, name)}
    if flags.get("benchmarks"):
        flags["benchmarks"] = [b for chunk in flags["benchmarks"] for b in chunk.split(",") if b]
    if flags.get("engine_args"):
        flags["engine_args"] = {**file_values.get("engine_args", {}), **dict(flags["engine_args"])}
    for name, spec in ALL_FIELDS.items():  # a store_true flag left off is "not set", not False
        if spec.type in ("bool", bool) and flags.get(name) is False:
            flags[name] = None
    embedded_default = not (args.config or flags.get("model") or flags.get("benchmarks"))
    if embedded_default and flags.get("budget") is None:
        flags["budget"] = EMBEDDED_DEFAULT_BUDGET
    return build_config(file_values, flags)


HELP = "generate, verify and summarise (resumable)"
DESCRIPTION = "Evaluate a model; re-running the same command resumes."


def configure(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from harness.runner import run, user_errors

    try:
        config = config_from_args(args)
        run(config, progress=not args.quiet, verbose=args.verbose)
    except user_errors() as exc:
        print(f"harness run: error: {exc}", file=sys.stderr)
        return 2
    return 0
