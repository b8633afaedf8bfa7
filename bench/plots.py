"""The benchmarks' plots (PNG, matplotlib without a display): latency as CDFs per load level,
throughput against its baseline, and history events per dosing session against the budget."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt  # after the backend is chosen
from matplotlib.figure import Figure


def latency_cdfs(
    path: Path, title: str, series: Mapping[str, Sequence[float]], goal_ms: float | None = None
) -> Path:
    """One cumulative distribution per series (ms on a log scale): read a curve's height at
    an x as the share of readings that took at most x."""
    figure, axes = plt.subplots(figsize=(8, 5))
    for label, samples in series.items():
        ordered = sorted(samples)
        shares = [(index + 1) / len(ordered) for index in range(len(ordered))]
        axes.step(ordered, shares, where="post", label=f"{label} (n={len(ordered)})")
    if goal_ms is not None:
        axes.axvline(goal_ms, color="grey", linestyle="--", label=f"goal {goal_ms:g} ms")
    axes.set_xscale("log")
    axes.set_xlabel("ms (log scale)")
    axes.set_ylabel("share of readings")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right")
    return _saved(figure, path)


def bars(
    path: Path,
    title: str,
    values: Mapping[str, float],
    unit: str,
    line: float | None = None,
    baselines: Collection[str] = (),
) -> Path:
    """One bar per figure, beside its baseline (grey: the labels in `baselines`); `line` marks
    a goal or budget."""
    figure, axes = plt.subplots(figsize=(8, 5))
    labels = list(values)
    colours = ["tab:grey" if label in baselines else "tab:blue" for label in labels]
    drawn = axes.bar(labels, [values[label] for label in labels], color=colours)
    axes.bar_label(drawn, fmt="%.1f")
    if line is not None:
        axes.axhline(line, color="grey", linestyle="--", label=f"{line:g} {unit}")
        axes.legend(loc="upper right")
    axes.set_ylabel(unit)
    axes.set_title(title)
    axes.tick_params(axis="x", labelrotation=15)
    return _saved(figure, path)


def _saved(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
