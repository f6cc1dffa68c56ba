"""Reporting: turn allocations and simulation results into terminal tables and plain data.

Functions here only format; they never compute seats or probabilities.
"""

from __future__ import annotations

from rich.table import Table

from .allocation import AllocationRow
from .config import Election


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
