"""Charts for reports (matplotlib, no display needed): seat distributions, projection, coalitions.

Each function returns the figure rendered as bytes in the requested format ("png" or "svg").
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .config import Election  # noqa: E402
from .results import Result  # noqa: E402

DEFAULT_COLORS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                  "#ff9da7", "#9c755f", "#bab0ac")


def party_colors(election: Election) -> dict[str, str]:
    """The config's ``color`` per party, else a colour-blind-friendly default palette in order."""
    return {p.id: p.color or DEFAULT_COLORS[i % len(DEFAULT_COLORS)] for i, p in enumerate(election.parties)}


def _render(fig, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes; the same figure gives the same bytes (no date in the SVG,
    and its element ids hashed with a fixed salt instead of a random one)."""
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "electsim"}):
        fig.savefig(buf, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buf.getvalue()


MIN_MEAN_SEATS = 0.5  # lists with fewer seats on average are left out of the seat charts


def relevant_parties(result: Result, min_mean: float = MIN_MEAN_SEATS) -> list[str]:
    """Parties worth a chart: mean seats of at least ``min_mean`` (all if none)."""
    ids = [pid for pid, p in result.parties.items() if p.mean_seats >= min_mean]
    return ids or list(result.parties)


def left_out_parties(result: Result, min_mean: float = MIN_MEAN_SEATS) -> list[str]:
    """The lists the seat charts leave out (:func:`relevant_parties`), in config order."""
    shown = set(relevant_parties(result, min_mean))
    return [pid for pid in result.parties if pid not in shown]


def left_out_note(result: Result, min_mean: float = MIN_MEAN_SEATS) -> str:
    """Which lists a seat chart leaves out and why, with their mean seats ("" when none)."""
    ids = left_out_parties(result, min_mean)
    if not ids:
        return ""
    return (f"Not shown, with fewer than {min_mean:g} seats on average: "
            + ", ".join(f"{result.parties[p].name} ({result.parties[p].mean_seats:.1f})" for p in ids)
            + ".")


def _footnote(fig, result: Result, width: int = 110) -> None:
    """The lists left out, below the figure (constrained layout makes room for it)."""
    note = left_out_note(result)
    if note:
        fig.supxlabel(textwrap.fill(note, width), fontsize=8)


MAX_BARS = 300  # seat counts drawn as bars; more as one stepped area (drawing 10,000 bars takes minutes)


def seat_distributions(election: Election, result: Result, fmt: str = "png") -> bytes:
    """One bar chart per party of P(exactly k seats), with the majority line."""
    ids = relevant_parties(result)
    colors = party_colors(election)
    cols = min(3, len(ids))
    rows = -(-len(ids) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.6 * rows), squeeze=False,
                             constrained_layout=True)
    for ax in axes.flat[len(ids):]:
        ax.set_visible(False)
    for ax, pid in zip(axes.flat, ids):
        p = result.parties[pid]
        probs = p.seat_probabilities
        nz = [k for k, x in enumerate(probs) if x > 0]
        lo, hi = min(nz), max(nz)
        if hi >= result.majority - 3:  # within reach of a majority: show the line
            hi = max(hi, result.majority)
        ks = range(max(0, lo - 1), hi + 2)
        heights = [probs[k] if k < len(probs) else 0 for k in ks]
        if len(ks) <= MAX_BARS:
            ax.bar(list(ks), heights, color=colors[pid], width=0.85)
        else:  # thousands of seat counts (a large assembly): one stepped area, not a bar each
            ax.fill_between(list(ks), heights, step="mid", color=colors[pid], lw=0)
        if ks.start <= result.majority <= ks.stop:
            ax.axvline(result.majority - 0.5, color="black", lw=1, ls="--")
            ax.text(result.majority - 0.4, ax.get_ylim()[1] * 0.92, "majority", fontsize=8)
        ax.set_title(f"{p.name}: mean {p.mean_seats:.1f}", fontsize=10)
        ax.set_xlabel("seats")
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    fig.suptitle(f"{result.election}: seat distributions ({result.runs:,} simulations)")
    _footnote(fig, result, width=int(40 * cols))
    return _render(fig, fmt)


def seat_projection(election: Election, result: Result, fmt: str = "png") -> bytes:
    """Mean seats per party with 90 % intervals, against the majority line."""
    ids = relevant_parties(result)
    colors = party_colors(election)
    parties = [result.parties[i] for i in ids][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(parties) + 1.4), constrained_layout=True)
    y = range(len(parties))
    ax.barh(list(y), [p.mean_seats for p in parties], color=[colors[p.id] for p in parties])
    ax.errorbar([p.mean_seats for p in parties], list(y),
                # a skewed distribution can have its mean outside its central 90 % (a few runs)
                xerr=[[max(p.mean_seats - p.seats_p05, 0.0) for p in parties],
                      [max(p.seats_p95 - p.mean_seats, 0.0) for p in parties]],
                fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axvline(result.majority, color="black", ls="--", lw=1)
    ax.text(result.majority + 0.5, len(parties) - 0.6, f"majority ({result.majority})", fontsize=8)
    ax.set_yticks(list(y), [p.name for p in parties])
    ax.set_xlabel("seats (bar: mean; whiskers: 90 % interval)")
    ax.set_xlim(0, max(result.seats * 0.6, max(p.seats_p95 for p in parties) + 5))
    ax.set_title(f"{result.election}: seat projection")
    _footnote(fig, result, width=100)
    return _render(fig, fmt)


def coalition_probabilities(election: Election, result: Result, fmt: str = "png",
                            note: str = "") -> bytes:
    """P(majority) of each coalition and of each single party with a chance of at least 0.1 %,
    as labelled horizontal bars; ``note`` (what was left out, say) below the axis."""
    rows = [(p.name, p.p_majority) for p in result.parties.values() if p.p_majority >= 0.001]
    rows += [(c.label, c.p_majority) for c in result.coalitions.values()]
    rows = rows or [("(none)", 0.0)]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.6), constrained_layout=True)
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [r[1] for r in rows], color="#1f4e9c")
    for yi, (_, p) in zip(y, rows):
        ax.text(min(p, 1.0) + 0.01, yi, f"{100 * p:.1f} %", va="center", fontsize=8)
    ax.set_yticks(y, [r[0] for r in rows])
    ax.set_xlim(0, 1.12)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("probability of a majority")
    if note:
        fig.supxlabel(textwrap.fill(note, 110), fontsize=8)
    fig.suptitle(f"{result.election}: who can hold a majority", fontsize=11)
    return _render(fig, fmt)


def district_seats(election: Election, result: Result, fmt: str = "png") -> bytes | None:
    """Mean seats by district (rows) and list (columns) as a heatmap, each cell labelled; None
    for an election without districts."""
    if not result.districts:
        return None
    ids = relevant_parties(result)
    names = [d.name for d in election.districts]
    grid = [[result.districts[d.id][p].mean_seats for p in ids] for d in election.districts]
    fig, ax = plt.subplots(figsize=(1.1 * len(ids) + 3.5, 0.32 * len(names) + 1.6),
                           constrained_layout=True)
    image = ax.imshow(grid, cmap="Blues", aspect="auto")
    for k, row in enumerate(grid):
        for j, x in enumerate(row):
            ax.text(j, k, f"{x:.1f}", ha="center", va="center", fontsize=7,
                    color="white" if x > 0.6 * max(max(r) for r in grid) else "black")
    ax.set_xticks(range(len(ids)), [result.parties[p].name for p in ids], rotation=30, ha="right",
                  fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    fig.colorbar(image, ax=ax, label="mean seats")
    fig.suptitle(f"{result.election}: mean seats by district", fontsize=11)
    _footnote(fig, result, width=max(40, int(11 * len(ids) + 30)))
    return _render(fig, fmt)


def scenario_differences(sweep, election: Election, fmt: str = "png") -> bytes:
    """Each scenario against the baseline: the difference in mean seats of every list and
    coalition worth showing (left) and in P(majority) (right), with 95 % error bars from the
    paired standard errors; one row of points per list, one colour per scenario."""
    from .report import scenario_rows_shown

    rows = scenario_rows_shown(sweep)
    names = list(dict.fromkeys(r["scenario"] for r in rows))
    labels = list(dict.fromkeys(r["name"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.42 * len(labels) * max(1, len(names)) ** 0.5 + 2.0),
                             sharey=True, constrained_layout=True)
    step = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        mine = [r for r in rows if r["scenario"] == name]
        y = [labels.index(r["name"]) - 0.4 + step * (k + 0.5) for r in mine]  # first on top
        color = DEFAULT_COLORS[k % len(DEFAULT_COLORS)]
        for ax, key, scale in ((axes[0], "mean_seats", 1.0), (axes[1], "p_majority", 100.0)):
            ax.errorbar([scale * r[f"{key}_difference"] for r in mine], y,
                        xerr=[1.96 * scale * r[f"{key}_se"] for r in mine], fmt="o", ms=4,
                        color=color, ecolor=color, capsize=3, lw=1, label=name if ax is axes[0] else None)
    for ax, title in ((axes[0], "difference in mean seats"), (axes[1], "difference in P(majority), points")):
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(title)
        ax.grid(axis="x", lw=0.3)
    axes[0].set_yticks(range(len(labels)), labels)
    axes[0].invert_yaxis()
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"{sweep.baseline.election}: scenarios against the baseline (bars: 95 %, paired)",
                 fontsize=11)
    return _render(fig, fmt)


def calibration_chart(calibration, fmt: str = "png") -> bytes:
    """PIT histograms of each model (flat = calibrated) and interval coverage against nominal."""
    summaries = list(calibration.summaries.values())
    fig, axes = plt.subplots(1, len(summaries) + 1, figsize=(4.2 * (len(summaries) + 1), 3.4),
                             constrained_layout=True)
    for ax, s in zip(axes, summaries):
        ax.bar([(i + 0.5) / 10 for i in range(10)], s.pit_histogram, width=0.09, color="#4e79a7")
        ax.axhline(s.lists / 10, color="black", ls="--", lw=1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("PIT: forecast P(share < actual)")
        ax.set_title(f"{s.model}: PIT of {s.lists} lists", fontsize=10)
    ax = axes[-1]
    levels = [0.5, 0.8, 0.9]
    for s, marker in zip(summaries, "os^"):
        ax.plot([100 * x for x in levels], [100 * s.share_coverage[x] for x in levels], marker=marker,
                label=f"{s.model}: vote share")
        ax.plot([100 * x for x in levels], [100 * s.seat_coverage[x] for x in levels], marker=marker,
                ls=":", label=f"{s.model}: seats")
    ax.plot([0, 100], [0, 100], color="black", lw=1, ls="--")
    ax.set_xlim(40, 100)
    ax.set_ylim(0, 100)
    ax.set_xlabel("interval (%)")
    ax.set_ylabel("actual results inside (%)")
    ax.set_title("coverage of the central intervals", fontsize=10)
    ax.legend(fontsize=7)
    fig.suptitle(f"Calibration on {len(calibration.elections)} past elections"
                 + (" (leave one election out)" if calibration.fitted else ""))
    return _render(fig, fmt)


CHARTS = {
    "seat_distributions": seat_distributions,
    "seat_projection": seat_projection,
    "coalitions": coalition_probabilities,
    "district_seats": district_seats,  # only with districts
}
