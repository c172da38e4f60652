"""The paper's Table 1 from run directories: benchmarks grouped by domain, one column per model.

Measured columns come from runs (Avg@k recomputed from scores.jsonl); reported columns come from a
YAML file of published numbers and are always labelled as reported, so a reader can never mistake a
copied number for one this harness measured.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.report.render import render
from harness.report.report import group_key
from harness.rundir import OTHER_GROUP, Run
from harness.metrics.figures import benchmark_figures

FORMATS = ("md", "csv", "tex", "html")


class ReferenceFileError(ValueError):
    """A reference YAML file that does not have the documented shape; the message says where."""


@dataclass
class Cell:
    value: float | None
    mark: str = ""  # a footnote mark carried over from the reference table
    best: bool = False


@dataclass
class Column:
    label: str
    kind: str  # "measured" or "reported"
    note: str  # "Avg@5" for measured columns, the source for reported ones
    runs: list[Path] = field(default_factory=list)


@dataclass
class Row:
    benchmark: str
    title: str
    group: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class Reference:
    source: str
    metric: str
    marks: dict[str, str]
    models: list[str]
    rows: list[tuple[str, list[str], str, str, list[Cell]]]  # name, aliases, title, group, cells


@dataclass
class Leaderboard:
    columns: list[Column]
    rows: list[Row]
    reference: Reference | None

    def groups(self) -> list[tuple[str, list[Row]]]:
        ordered: dict[str, list[Row]] = {}
        for row in sorted(self.rows, key=lambda r: group_key(r.group)):
            ordered.setdefault(row.group, []).append(row)
        return list(ordered.items())


def load_reference(path: str | Path) -> Reference:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ReferenceFileError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), list) or not isinstance(data.get("benchmarks"), list):
        raise ReferenceFileError(f"{path}: expected a mapping with a `models` list and a `benchmarks` list")
    models = [str(model) for model in data["models"]]
    rows = []
    for position, entry in enumerate(data["benchmarks"], start=1):
        where = f"{path}: benchmarks[{position}]"
        if not isinstance(entry, dict) or "name" not in entry or not isinstance(entry.get("scores"), list):
            raise ReferenceFileError(f"{where}: needs `name` and a `scores` list")
        if len(entry["scores"]) != len(models):
            raise ReferenceFileError(f"{where} ({entry['name']}): {len(entry['scores'])} scores for {len(models)} models")
        cells = []
        for score in entry["scores"]:
            if isinstance(score, dict):
                value, mark = score.get("value"), str(score.get("mark") or "")
            else:
                value, mark = score, ""
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise ReferenceFileError(f"{where} ({entry['name']}): score {value!r} is not a number")
            cells.append(Cell(None if value is None else float(value), mark))
        rows.append((str(entry["name"]), [str(a) for a in entry.get("aliases") or []],
                     str(entry.get("title") or entry["name"]), str(entry.get("group") or OTHER_GROUP), cells))
    return Reference(str(data.get("source") or path.name), str(data.get("metric") or "Acc."),
                     {str(k): str(v) for k, v in (data.get("marks") or {}).items()}, models, rows)


def _measured_label(run: Run, runs: list[Run]) -> str:
    """The model name, qualified by mode and budget only when runs of that model differ in them."""
    settings = {(r.mode, r.budget) for r in runs if r.model == run.model}
    return run.model if len(settings) == 1 else run.label


def build_leaderboard(runs: list[Run], reference: Reference | None = None) -> Leaderboard:
    columns: dict[str, Column] = {}
    rows: dict[str, Row] = {}
    alias_of: dict[str, str] = {}
    if reference:
        for name, aliases, title, group, _ in reference.rows:
            rows[name] = Row(name, title, group)
            alias_of.update({alias: name for alias in aliases})
    for run in runs:
        label = _measured_label(run, runs)
        column = columns.setdefault(label, Column(label, "measured", f"Avg@{run.samples}"))
        if column.note != f"Avg@{run.samples}":
            column.note = "Avg@k varies"
        column.runs.append(run.path)
        for benchmark in run.benchmark_names():
            name = alias_of.get(benchmark, benchmark)
            info = run.info(benchmark)
            row = rows.setdefault(name, Row(name, info.title, info.group))
            if row.group == OTHER_GROUP and info.group != OTHER_GROUP:
                row.group = info.group
            if label in row.cells:
                raise ValueError(f"{benchmark} for {label} appears in more than one run: "
                                 f"{', '.join(str(p) for p in column.runs)}; pass one run per benchmark and model")
            row.cells[label] = Cell(benchmark_figures(run, benchmark).accuracy.mean)
    all_columns = list(columns.values())
    if reference:
        for position, model in enumerate(reference.models):
            label = f"{model} (reported)"
            all_columns.append(Column(label, "reported", reference.source))
            for name, _, _, _, cells in reference.rows:
                rows[name].cells[label] = cells[position]
    for row in rows.values():
        values = [cell.value for cell in row.cells.values() if cell.value is not None]
        best = max(values) if values else None
        for cell in row.cells.values():
            cell.best = best is not None and cell.value is not None and abs(cell.value - best) < 1e-9
    return Leaderboard(all_columns, list(rows.values()), reference)


def _value(cell: Cell | None) -> str:
    if cell is None or cell.value is None:
        return "–"
    return f"{cell.value:.1f}{cell.mark}"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _footnotes(board: Leaderboard) -> list[str]:
    notes = []
    if any(c.kind == "measured" for c in board.columns):
        notes.append("Measured columns: accuracy (%) averaged over k samples per item (Avg@k), recomputed from scores.jsonl.")
    if board.reference:
        notes.append(f"Columns marked (reported) are copied from {board.reference.source}, not measured here.")
        notes += [f"{mark} {meaning}" for mark, meaning in board.reference.marks.items()]
    notes.append("Bold: best in the row.")
    return notes


def to_markdown(board: Leaderboard) -> str:
    header = ["Benchmark", "Metric", *[f"{c.label} ({c.note})" if c.kind == "measured" else c.label for c in board.columns]]
    lines = ["| " + " | ".join(map(_md, header)) + " |", "|" + "---|" * len(header)]
    for group, rows in board.groups():
        lines.append("| " + " | ".join([f"*{_md(group)}*"] + [""] * (len(header) - 1)) + " |")
        for row in rows:
            cells = []
            for column in board.columns:
                cell = row.cells.get(column.label)
                text = _value(cell)
                cells.append(f"**{text}**" if cell and cell.best else text)
            lines.append("| " + " | ".join([_md(row.title), "Acc.", *cells]) + " |")
    return "\n".join(lines + [""] + [f"{note}  " for note in _footnotes(board)]) + "\n"


def to_csv(board: Leaderboard) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["group", "benchmark", "title", "column", "kind", "note", "accuracy", "mark", "best"])
    for group, rows in board.groups():
        for row in rows:
            for column in board.columns:
                cell = row.cells.get(column.label)
                if cell is None:
                    continue
                value = "" if cell.value is None else f"{cell.value:.2f}"
                writer.writerow([group, row.benchmark, row.title, column.label, column.kind, column.note,
                                 value, cell.mark, int(cell.best)])
    return buffer.getvalue()


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX.get(char, char) for char in str(text))


def to_latex(board: Leaderboard) -> str:
    """A booktabs table; reported columns are set in italics in the header and footnoted."""
    n = len(board.columns)
    heads = []
    for column in board.columns:
        name = tex_escape(column.label.replace(" (reported)", "").strip())
        heads.append(f"{name} ({tex_escape(column.note)})" if column.kind == "measured" else f"\\textit{{{name}}}$^\\dagger$")
    lines = [
        "% requires \\usepackage{booktabs}",
        "\\begin{tabular}{ll" + "c" * n + "}",
        "\\toprule",
        "Benchmark & Metric & " + " & ".join(heads) + " \\\\",
        "\\midrule",
    ]
    for number, (group, rows) in enumerate(board.groups()):
        if number:
            lines.append("\\midrule")
        lines.append(f"\\multicolumn{{{n + 2}}}{{l}}{{\\textit{{{tex_escape(group)}}}}} \\\\")
        for row in rows:
            cells = []
            for column in board.columns:
                cell = row.cells.get(column.label)
                text = tex_escape(_value(cell))
                cells.append(f"\\textbf{{{text}}}" if cell and cell.best else text)
            lines.append(f"{tex_escape(row.title)} & Acc. & " + " & ".join(cells) + " \\\\")
    lines.append("\\bottomrule")
    for note in _footnotes(board):
        mark = "$^\\dagger$ " if "(reported)" in note else ""
        lines.append(f"\\multicolumn{{{n + 2}}}{{l}}{{\\footnotesize {mark}{tex_escape(note)}}} \\\\")
    lines.append("\\end{tabular}")
    return "\n".join(lines) + "\n"


def to_html(board: Leaderboard) -> str:
    return render("leaderboard.html.j2", board=board, value=_value, footnotes=_footnotes(board))


def render_format(board: Leaderboard, fmt: str) -> str:
    renderers: dict[str, Any] = {"md": to_markdown, "csv": to_csv, "tex": to_latex, "html": to_html}
    if fmt not in renderers:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return renderers[fmt](board)
