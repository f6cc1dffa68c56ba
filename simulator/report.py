"""Reporting: turn allocations and simulation results into terminal tables and plain data.

Functions here only format; they never compute seats or probabilities.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
from pathlib import Path

from rich.table import Table

from .allocation import AllocationRow
from .config import Election
from .errors import InputError
from .results import Result


def allocation_json(election: Election, rows: list[AllocationRow]) -> dict:
    """The ``allocate --json`` document: ``{"seats": {id: int}, ...}``, every party included."""
    return {
        "election": election.name,
        "seats_total": election.rules.seats,
        "majority": election.rules.majority,
        "method": election.rules.method,
        "threshold_base": election.rules.threshold_base,
        "seats": {r.id: r.seats for r in rows},
        "parties": {
            r.id: {
                "name": r.name,
                "votes": r.votes,
                "share": r.share,
                "minority": r.minority,
                "qualified": r.qualified,
                "takes_part": r.takes_part,
                "seats": r.seats,
            }
            for r in rows
        },
    }


def allocation_table(election: Election, rows: list[AllocationRow]) -> Table:
    """A rich table of votes, share, qualification and seats, one row per party."""
    rules = election.rules
    base = "ballots cast" if rules.threshold_base == "cast" else "valid votes"
    table = Table(
        title=f"{election.name}: {rules.seats} seats, {rules.method}, threshold {rules.threshold:g} % of {base}",
        caption=f"majority: {rules.majority} seats",
    )
    table.add_column("id")
    table.add_column("list")
    table.add_column("votes", justify="right")
    table.add_column(f"% of {base}", justify="right")
    table.add_column("qualified")
    table.add_column("seats", justify="right")
    for r in rows:
        if r.qualified:
            status = "yes"
        elif r.takes_part:
            status = "minority (exempt)" if r.minority else "yes (nobody qualified)"
        else:
            status = "no"
        table.add_row(r.id, r.name, f"{r.votes:,.0f}", f"{r.share:.2f}", status, str(r.seats))
    return table


# --- simulation results ---------------------------------------------------------------------------


def format_probability(p: float) -> str:
    """A probability as a reader expects it: one decimal, never "100.0 %" or "0.0 %" for an estimate.

    An event seen in every run (or none) is only known to be above 99.9 % (below 0.1 %).
    """
    pct = 100.0 * p
    if pct > 99.9:
        return "> 99.9 %"
    if pct < 0.1:
        return "< 0.1 %"
    return f"{pct:.1f} %"


def result_table(result: Result) -> Table:
    """Terminal table: party, mean seats, 90 % interval, P(majority), P(threshold)."""
    table = Table(
        title=f"{result.election}: {result.runs:,} simulated elections (seed {result.seed})",
        caption=f"majority: {result.majority} of {result.seats} seats; ± is the Monte Carlo standard error",
    )
    for col, just in (("party", "left"), ("share %", "right"), ("mean seats", "right"),
                      ("90 % interval", "right"), ("P(majority)", "right"), ("P(threshold)", "right")):
        table.add_column(col, justify=just)
    for p in result.parties.values():
        table.add_row(
            p.name, f"{p.mean_share:.1f}", f"{p.mean_seats:.1f}", f"{p.seats_p05}–{p.seats_p95}",
            f"{format_probability(p.p_majority)} ± {100 * p.p_majority_se:.2f}",
            f"{format_probability(p.p_threshold)}",
        )
    if result.coalitions:
        table.add_section()
        for c in result.coalitions.values():
            table.add_row(
                f"{c.name} ({' + '.join(c.members)})", "", f"{c.mean_seats:.1f}",
                f"{c.seats_p05}–{c.seats_p95}",
                f"{format_probability(c.p_majority)} ± {100 * c.p_majority_se:.2f}", "",
            )
    return table


PARTY_COLUMNS = ("id", "name", "mean_share", "mean_seats", "seats_p05", "seats_p50", "seats_p95",
                 "p_majority", "p_majority_se", "p_threshold", "p_threshold_se")
COALITION_COLUMNS = ("name", "members", "mean_seats", "seats_p05", "seats_p50", "seats_p95",
                     "p_majority", "p_majority_se")


def parties_csv(result: Result) -> str:
    """One tidy row per party (probabilities as fractions, not percent), for pandas and spreadsheets."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PARTY_COLUMNS)
    for p in result.parties.values():
        w.writerow([getattr(p, c) for c in PARTY_COLUMNS])
    return buf.getvalue()


def coalitions_csv(result: Result) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COALITION_COLUMNS)
    for c in result.coalitions.values():
        w.writerow([" ".join(c.members) if col == "members" else getattr(c, col) for col in COALITION_COLUMNS])
    return buf.getvalue()


def seat_distribution_csv(result: Result) -> str:
    """Long format: party, seats, probability; one row per party and seat count."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(("id", "seats", "probability", "p_at_least"))
    for p in result.parties.values():
        for k, prob in enumerate(p.seat_probabilities):
            w.writerow((p.id, k, prob, p.p_at_least(k)))
    return buf.getvalue()


def result_markdown(result: Result) -> str:
    """A Markdown summary: headline, party table, coalition table."""
    lines = [f"## {result.election}", "", summary_line(result), ""]
    lines += ["| Party | Vote share | Mean seats | 90 % interval | P(majority) | P(threshold) |",
              "|---|---:|---:|---:|---:|---:|"]
    for p in result.parties.values():
        lines.append(
            f"| {p.name} | {p.mean_share:.1f} % | {p.mean_seats:.1f} | {p.seats_p05}–{p.seats_p95} "
            f"| {format_probability(p.p_majority)} (± {100 * p.p_majority_se:.2f}) "
            f"| {format_probability(p.p_threshold)} |"
        )
    if result.coalitions:
        lines += ["", "| Coalition | Members | Mean seats | 90 % interval | P(majority) |",
                  "|---|---|---:|---:|---:|"]
        for c in result.coalitions.values():
            lines.append(
                f"| {c.name} | {', '.join(c.members)} | {c.mean_seats:.1f} | {c.seats_p05}–{c.seats_p95} "
                f"| {format_probability(c.p_majority)} (± {100 * c.p_majority_se:.2f}) |"
            )
    lines += ["", f"_{result.runs:,} simulated elections, seed {result.seed}; majority = "
                  f"{result.majority} of {result.seats} seats; ± is the Monte Carlo standard error "
                  f"in percentage points._", ""]
    return "\n".join(lines)


def summary_line(result: Result) -> str:
    """One plain-language sentence about the most likely majority."""
    best = max(result.parties.values(), key=lambda p: p.p_majority)
    if best.p_majority > 0:
        return (f"{best.name} wins a majority in {format_probability(best.p_majority)} of "
                f"{result.runs:,} simulated elections.")
    return f"No list wins a majority on its own in any of {result.runs:,} simulated elections."


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write a file so that readers see either the old file or the whole new one, never half."""
    path = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": ""})) as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_writable(path: str | Path) -> Path:
    """Fail early, before any work, when an output file cannot be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file to write")
    if not parent.is_dir():
        raise InputError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{path}: directory {parent} is not writable")
    return path


def bench_table(kernel, machine: dict) -> Table:
    """The ``electsim bench`` table: implementation, allocations/s, ns each, speed-up, matched."""
    table = Table(
        title=(f"Allocation benchmark: {kernel.lists} lists, {kernel.seats} seats, {kernel.method}, "
               f"{kernel.threads} threads"),
        caption=f"{machine['cpu']}, {machine['cores']} cores; numba {machine['numba']}, numpy {machine['numpy']}",
    )
    for col in ("implementation", "allocations/s", "ns/allocation", "vs seat-by-seat", "matched", "timed on"):
        table.add_column(col, justify="left" if col == "implementation" else "right")
    for t in kernel.timings:
        table.add_row(
            t.name, f"{t.allocations_per_s:,.0f}", f"{t.ns_per_allocation:,.1f}",
            f"{t.speedup_vs_seat_by_seat:,.3g}x", "yes" if t.matched_reference else "NO",
            f"{t.runs_timed:,}" + (" (subsample)" if t.subsample else ""),
        )
    return table
