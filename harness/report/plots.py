"""Inline SVG plots for the report: token-length histograms and accuracy-versus-budget curves.

SVG keeps the report one file with crisp plots and no image requests; text stays text (fonttype
"none") so plots are small and searchable. Titles come from run directories, so mathtext parsing is
off: a benchmark named "$x$" is drawn as written, not interpreted.
"""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import NullLocator  # noqa: E402

_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "harness-report",  # stable element ids: identical inputs give identical files
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
THINK_COLOUR = "#7b61c4"
ANSWER_COLOUR = "#2a9d8f"


def _to_svg(figure: plt.Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML


def token_histogram(think: np.ndarray, answer: np.ndarray, title: str) -> str:
    """Overlaid histograms of thinking and answer lengths (tokens per response)."""
    think, answer = np.asarray(think, dtype=float), np.asarray(answer, dtype=float)
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots(figsize=(5.2, 2.4))
        top = max(think.max(initial=1), answer.max(initial=1))
        bins = np.linspace(0, top, 31)
        if think.any():
            axes.hist(think, bins=bins, alpha=0.65, color=THINK_COLOUR, label="thinking")
        axes.hist(answer, bins=bins, alpha=0.65, color=ANSWER_COLOUR, label="answer")
        axes.set_xlabel("tokens per response")
        axes.set_ylabel("responses")
        axes.set_title(title)
        axes.legend(frameon=False)
        return _to_svg(figure)


def budget_curve(series: dict[str, list[tuple[int, float]]], baselines: dict[str, float], title: str) -> str:
    """Accuracy against token budget, one line per mode in the given order (the paper's Figure 9).

    The budget axis is log2 with a tick at each budget (1K, 2K, ... 16K), so doubling the budget is one
    step; a mode run at one budget only is a flat dashed line.
    """
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots(figsize=(5.2, 2.8))
        budgets = sorted({budget for points in series.values() for budget, _ in points})
        for mode, points in series.items():
            points = sorted(points)
            xs, ys = [b for b, _ in points], [a for _, a in points]
            axes.plot(xs, ys, marker="o", label=mode)
            for x, y in points:
                axes.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 5),
                              ha="center", fontsize=7)
        for mode, accuracy in baselines.items():
            axes.axhline(accuracy, linestyle="--", linewidth=1, color="grey")
            axes.annotate(f"{mode} {accuracy:.1f}", (budgets[0] if budgets else 1, accuracy),
                          textcoords="offset points", xytext=(2, 3), fontsize=7, color="grey")
        axes.set_xscale("log", base=2)
        axes.xaxis.set_minor_locator(NullLocator())  # ticks at the budgets only
        axes.set_xticks(budgets)
        axes.set_xticklabels([_short_budget(b) for b in budgets])
        accuracy_axis(axes)
        axes.set_xlabel("token budget")
        axes.set_title(title)
        axes.legend(frameon=False)
        return _to_svg(figure)


def accuracy_axis(axes: plt.Axes) -> None:
    """The y axis of every accuracy plot: 0-100 %, so plots side by side compare at a glance."""
    axes.set_ylim(0, 100)
    axes.set_yticks(range(0, 101, 20))
    axes.set_ylabel("accuracy (%)")


def _short_budget(budget: int) -> str:
    if budget >= 1024 and budget % 1024 == 0:
        return f"{budget // 1024}K"
    return str(budget) if budget < 10_000 else f"{math.floor(budget / 1000)}K"
