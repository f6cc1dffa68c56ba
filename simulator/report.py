"""Reporting: turn allocations and simulation results into terminal tables and plain data.

Functions here only format; they never compute seats or probabilities.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from .allocation import AllocationRow
from .config import Election
from .errors import InputError
from .files import Outputs, atomic_path, check_output_dir, check_writable, write_atomic  # noqa: F401
from .results import Result, at_least_all, standard_error


def allocation_json(election: Election, rows: list[AllocationRow],
                    districts: dict[str, dict[str, int]] | None = None) -> dict:
    """The ``allocate --json`` document: ``{"seats": {id: int}, ...}``, every party included, and
    with districts ``"districts": {district: {id: int}}``."""
    doc = {
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
    if districts is not None:
        doc["threshold_scope"] = election.rules.threshold_scope
        doc["districts"] = districts
    if election.law is not None:  # the seats of each tier of the law
        doc["tiers"] = election.law.tiers
        doc["law"] = election.law.describe(election.rules.seats, len(election.districts))
        for r in rows:
            doc["parties"][r.id]["by_tier"] = dict(r.by_tier)
    return doc


def district_table(election: Election, districts: dict[str, dict[str, int]]) -> Table:
    """Seats per district (rows) and list (columns, the lists that won any), with magnitudes."""
    won = [p for p in election.parties if any(districts[d][p.id] for d in districts)]
    table = Table(title=f"{election.name}: seats by district "
                        f"(threshold on {election.rules.threshold_scope} votes)")
    table.add_column("district")
    table.add_column("seats", justify="right")
    for p in won:
        table.add_column(p.name, justify="right")
    for d in election.districts:  # the seats each district ended with (levelling seats included)
        table.add_row(d.name, str(sum(districts[d.id].values())),
                      *(str(districts[d.id][p.id]) for p in won))
    return table


def allocation_table(election: Election, rows: list[AllocationRow]) -> Table:
    """A rich table of votes, share, qualification and seats, one row per party."""
    rules = election.rules
    base = "ballots cast" if rules.threshold_base == "cast" else "valid votes"
    table = Table(
        title=(f"{election.name}: {rules.seats} seats, {rules.method}, threshold {rules.threshold:g} % of {base}"
               if election.law is None else f"{election.name}: {rules.seats} seats: "
               + election.law.describe(rules.seats, len(election.districts))),
        caption=f"majority: {rules.majority} seats",
    )
    table.add_column("id")
    table.add_column("list")
    table.add_column("votes", justify="right")
    table.add_column(f"% of {base}", justify="right")
    table.add_column("qualified")
    tiers = [name for name, _ in rows[0].by_tier] if rows and len(rows[0].by_tier) > 1 else []
    for name in tiers:
        table.add_column(f"{name} seats", justify="right")
    table.add_column("seats", justify="right")
    for r in rows:
        if r.qualified:
            status = "yes"
        elif election.law is not None:
            status = "no (seats won in districts)" if r.seats else "no"
        elif r.takes_part:
            status = "minority (exempt)" if r.minority else "yes (nobody qualified)"
        else:
            status = "no"
        table.add_row(r.id, r.name, f"{r.votes:,.0f}", f"{r.share:.2f}", status,
                      *(str(k) for _, k in r.by_tier[:len(tiers)]), str(r.seats))
    return table


# --- simulation results ---------------------------------------------------------------------------


def never_bound(runs: int) -> float:
    """The 95 % upper bound of the probability of an event seen in none of ``runs`` runs:
    1 - 0.05 ** (1 / runs), which is the rule of three's 3 / runs for any sizeable number of runs
    and stays a probability for a handful (95 % for one run, where 3 / runs would be 300 %)."""
    return -math.expm1(math.log(0.05) / runs)


def format_probability(p: float, runs: int | None = None) -> str:
    """A probability as a reader expects it: one decimal, and two significant digits of whatever
    is below 0.1 % or above 99.9 %, never "100.0 %" or "0.0 %" for an estimate. An event seen in
    none of ``runs`` runs (or in all) is shown as its 95 % bound (:func:`never_bound`: below
    3 / runs, the rule of three, for many runs)."""
    pct = 100.0 * p
    if runs and p <= 0.0:
        return f"< {_sig(100.0 * never_bound(runs))} %"
    if runs and p >= 1.0:
        return f"> {_complement(100.0 * never_bound(runs))} %"
    if pct < 0.1:
        return f"{_sig(pct)} %" if pct > 0 else "< 0.1 %"
    if pct > 99.9:
        return f"{_complement(100.0 - pct)} %" if pct < 100 else "> 99.9 %"
    return f"{pct:.1f} %"


def format_estimate(p: float, se: float, runs: int) -> str:
    """A probability and its Monte Carlo standard error in points ("98.0 % ± 0.014"); a bound
    alone when the event was seen in no run or in every run (its standard error is no guide)."""
    text = format_probability(p, runs)
    if p <= 0.0 or p >= 1.0:
        return text
    return f"{text} ± {_sig(100.0 * se) if 100.0 * se < 0.01 else f'{100.0 * se:.2f}'}"


def _sig(x: float) -> str:
    """Two significant digits at most, without an exponent (0.0003, 0.012, 3.4)."""
    if x <= 0:
        return "0"
    digits = max(0, 1 - int(math.floor(math.log10(x))))
    return _trim(f"{x:.{digits}f}")


def _complement(c: float) -> str:
    """100 - c (points) with c to two significant digits at most: 0.0003 -> "99.9997"."""
    digits = max(0, 1 - int(math.floor(math.log10(c))))
    return _trim(f"{100.0 - c:.{digits}f}")


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def result_table(result: Result) -> Table:
    """Terminal table: party, mean seats, 90 % interval, P(majority), P(threshold)."""
    table = Table(
        title=f"{result.election}: {result.runs:,} simulated elections (seed {result.seed})",
        caption=(f"majority: {result.majority} of {result.seats} seats; intervals are central 90 %; "
                 f"± is the Monte Carlo standard error in points; error model: {result.error_model}"),
    )
    for col, just in (("party", "left"), ("share %", "right"), ("share 90 %", "right"),
                      ("mean seats", "right"), ("seats 90 %", "right"), ("P(majority)", "right"),
                      ("P(threshold)", "right")):
        table.add_column(col, justify=just)
    for p in result.parties.values():
        table.add_row(
            p.name, f"{p.mean_share:.1f}", f"{p.share_p05:.1f}–{p.share_p95:.1f}",
            f"{p.mean_seats:.1f}", f"{p.seats_p05}–{p.seats_p95}",
            format_estimate(p.p_majority, p.p_majority_se, result.runs),
            format_probability(p.p_threshold, result.runs),
        )
    if result.coalitions:
        table.add_section()
        for c in result.coalitions.values():
            table.add_row(
                c.label, "", "", f"{c.mean_seats:.1f}", f"{c.seats_p05}–{c.seats_p95}",
                format_estimate(c.p_majority, c.p_majority_se, result.runs), "",
            )
    return table


PARTY_COLUMNS = ("id", "name", "mean_share", "mean_seats", "seats_p05", "seats_p50", "seats_p95",
                 "p_majority", "p_majority_se", "p_threshold", "p_threshold_se", "share_p05",
                 "share_p50", "share_p95")
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
        for k, (prob, tail) in enumerate(zip(p.seat_probabilities, at_least_all(p))):
            w.writerow((p.id, k, prob, tail))
    return buf.getvalue()


def result_markdown(result: Result) -> str:
    """A Markdown summary: headline, party table, coalition table."""
    lines = [f"## {result.election}", "", summary_line(result), ""]
    lines += ["| Party | Vote share | 90 % interval | Mean seats | 90 % interval | P(majority) | P(threshold) |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for p in result.parties.values():
        lines.append(
            f"| {p.name} | {p.mean_share:.1f} % | {p.share_p05:.1f}–{p.share_p95:.1f} % "
            f"| {p.mean_seats:.1f} | {p.seats_p05}–{p.seats_p95} "
            f"| {format_estimate(p.p_majority, p.p_majority_se, result.runs)} "
            f"| {format_probability(p.p_threshold, result.runs)} |"
        )
    if result.coalitions:
        lines += ["", "| Coalition | Members | Mean seats | 90 % interval | P(majority) |",
                  "|---|---|---:|---:|---:|"]
        for c in result.coalitions.values():
            lines.append(
                f"| {c.display_name} | {', '.join(c.member_names or c.members)} | {c.mean_seats:.1f} "
                f"| {c.seats_p05}–{c.seats_p95} | {format_estimate(c.p_majority, c.p_majority_se, result.runs)} |"
            )
    lines += ["", f"_{result.runs:,} simulated elections, seed {result.seed}; majority = "
                  f"{result.majority} of {result.seats} seats; intervals are central 90 %; ± is the "
                  f"Monte Carlo standard error in percentage points. Error model: "
                  f"{result.error_model}._", ""]
    return "\n".join(lines)


def analysis_rows(result: Result) -> list[tuple[str, ...]]:
    """Per list with a chance of a seat: P(first by seats), P(second), P(first by votes), mean
    Banzhaf and Shapley-Shubik indices, P(pivotal in a minimal winning coalition), and how often
    its majority of votes and of seats part ways."""
    n = result.runs
    rows = []
    for p in result.parties.values():
        if p.mean_seats < 0.05 and p.p_first_by_votes == 0:
            continue
        second = p.p_rank[1] if len(p.p_rank) > 1 else 0.0
        rows.append((p.name, format_probability(p.p_rank[0], n), format_probability(second, n),
                     format_probability(p.p_first_by_votes, n), f"{p.banzhaf:.3f}",
                     f"{p.shapley_shubik:.3f}", format_probability(p.p_pivotal, result.power_runs),
                     format_probability(p.p_vote_majority_without_seat_majority, n),
                     format_probability(p.p_seat_majority_without_vote_majority, n)))
    return rows


ANALYSIS_HEAD = ("Party", "P(first by seats)", "P(second)", "P(first by votes)", "Banzhaf",
                 "Shapley-Shubik", "P(kingmaker)", "P(vote majority, no seat majority)",
                 "P(seat majority, no vote majority)")


def analysis_markdown(result: Result) -> list[str]:
    """The report's "Places and power" section: the table of :func:`analysis_rows`, and the last
    seat."""
    lines = ["| " + " | ".join(ANALYSIS_HEAD) + " |", "|---|" + "---:|" * (len(ANALYSIS_HEAD) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in analysis_rows(result)]
    lines += ["", f"Power indices are averaged over the {result.power_runs:,} runs counted for them "
                  "(one in 8), each computed exactly from the seats and the majority; kingmaker: "
                  "pivotal in at least one minimal winning coalition. Votes are those of the lists "
                  "that take part."]
    if result.last_seat:
        ls = result.last_seat
        ids = {p.id: p.name for p in result.parties.values()}
        won = sorted(ls["won"].items(), key=lambda x: -x[1])[:3]
        lost = sorted(ls["lost"].items(), key=lambda x: -x[1])[:3]
        lines += ["", f"The last seat was decided by {ls['margin_points_p50']:.2f} points of the vote "
                      f"in the median run (90 % of runs between {ls['margin_points_p05']:.3f} and "
                      f"{ls['margin_points_p95']:.2f}; under 0.1 point in "
                      f"{format_probability(ls['p_margin_below_0_1_points'], ls['runs'])}). It went "
                      "most often to " + ", ".join(f"{ids[k]} ({100 * v:.0f} %)" for k, v in won)
                  + "; the list that came next was most often "
                  + ", ".join(f"{ids[k]} ({100 * v:.0f} %)" for k, v in lost) + "."]
    return lines


def analysis_table(result: Result) -> Table:
    """Terminal table of :func:`analysis_rows`."""
    table = Table(title="Places and power", caption=analysis_markdown(result)[-1]
                  if result.last_seat else None)
    for k, col in enumerate(ANALYSIS_HEAD):
        table.add_column(col, justify="left" if k == 0 else "right")
    for row in analysis_rows(result):
        table.add_row(*row)
    return table


def format_difference(d: float, se: float, scale: float = 1.0) -> str:
    """A paired difference and its standard error, the difference to the standard error's two
    significant digits (at least two decimals): "+0.7100 ± 0.0013", "+3.85 ± 0.02" (``scale``
    100 for points); "0" when no run differed."""
    x = scale * d
    e = scale * se
    if e == 0.0 and x == 0.0:
        return "0"
    if not math.isfinite(e):  # one run: a difference, but no spread to measure it by
        return "0" if x == 0.0 else f"{x:+.2f} (no s.e. from one run)"
    digits = 2 if e <= 0.0 else min(6, max(2, 1 - int(math.floor(math.log10(e)))))
    return f"{x:+.{digits}f} ± {e:.{digits}f}"


def scenario_rows_shown(sweep, min_seats: float = 0.5) -> list[dict]:
    """The rows of :meth:`~simulator.scenarios.SweepResult.rows` worth a table: lists with half a
    seat on average under the scenario or the baseline, and every coalition."""
    return [r for r in sweep.rows()
            if r["kind"] == "coalition" or max(r["mean_seats"], r["mean_seats_baseline"]) >= min_seats
            or r["p_majority"] > 0 or r["p_majority_baseline"] > 0]


SCENARIO_HEAD = ("Scenario", "List or coalition", "Mean seats (baseline)", "Mean seats",
                 "Difference ± s.e.", "P(majority) (baseline)", "P(majority)",
                 "Difference (points) ± s.e.")


def _scenario_cells(r: dict, runs: int) -> tuple[str, ...]:
    return (r["scenario"], r["name"], f"{r['mean_seats_baseline']:.2f}", f"{r['mean_seats']:.2f}",
            format_difference(r["mean_seats_difference"], r["mean_seats_se"]),
            format_probability(r["p_majority_baseline"], runs), format_probability(r["p_majority"], runs),
            format_difference(r["p_majority_difference"], r["p_majority_se"], 100.0))


SCENARIO_NOTE = ("Every scenario is allocated on the same simulated votes as the baseline; a "
                 "difference is the mean of the run-by-run differences and ± its paired standard "
                 "error. A merged list is compared with its members together at the baseline.")


def sweep_table(sweep) -> Table:
    """Terminal table of every scenario against the baseline (:func:`scenario_rows_shown`)."""
    runs = sweep.baseline.runs
    table = Table(title=f"{sweep.baseline.election}: scenarios on {runs:,} shared simulated elections "
                        f"(seed {sweep.baseline.seed})", caption=SCENARIO_NOTE)
    for k, col in enumerate(SCENARIO_HEAD):
        table.add_column(col, justify="left" if k < 2 else "right")
    last = None
    for r in scenario_rows_shown(sweep):
        if last is not None and r["scenario"] != last:
            table.add_section()
        last = r["scenario"]
        table.add_row(*_scenario_cells(r, runs))
    return table


def sweep_markdown(sweep) -> list[str]:
    """The "Scenarios" section of a report (its lines): the rules each scenario changes, and the
    table of :func:`sweep_table`."""
    runs = sweep.baseline.runs
    lines = [SCENARIO_NOTE, ""]
    names = {pid: p.name for pid, p in sweep.baseline.parties.items()}
    for name, rules in sweep.overrides.items():
        lines.append(f"- **{name}**: {_rules_text(rules, names=names)}")
    lines += ["", "| " + " | ".join(SCENARIO_HEAD) + " |", "|---|---|" + "---:|" * (len(SCENARIO_HEAD) - 2)]
    lines += ["| " + " | ".join(_scenario_cells(r, runs)) + " |" for r in scenario_rows_shown(sweep)]
    return lines


def _rules_text(rules: dict, prefix: str = "", names: dict[str, str] | None = None) -> str:
    """A scenario's rules in one line: config keys as written, merged lists by their names."""
    names = names or {}
    parts = []
    for key, value in rules.items():
        if key == "merge" and isinstance(value, dict):
            parts += [f"{' + '.join(names.get(m, m) for m in members)} run as one list ({new})"
                      for new, members in value.items()]
        elif isinstance(value, dict):
            parts.append(_rules_text(value, f"{prefix}{key}.", names))
        else:
            parts.append(f"{prefix}{key} = {value if isinstance(value, str) else json.dumps(value)}")
    return "; ".join(parts) or "the baseline's rules"


SCENARIO_COLUMNS = ("scenario", "kind", "id", "name", "mean_seats_baseline", "mean_seats",
                    "mean_seats_difference", "mean_seats_se", "p_majority_baseline", "p_majority",
                    "p_majority_difference", "p_majority_se")


def sweep_csv(sweep) -> str:
    """One tidy row per scenario and list or coalition (every list; probabilities as fractions)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SCENARIO_COLUMNS)
    for r in sweep.rows():
        w.writerow([r[c] for c in SCENARIO_COLUMNS])
    return buf.getvalue()


def summary_line(result: Result) -> str:
    """One plain-language sentence about the most likely majority, a list's or a coalition's
    (of those the result carries: configured, and in reports discovered ones)."""
    options = [(p.p_majority, p.name) for p in result.parties.values()]
    options += [(c.p_majority, c.label) for c in result.coalitions.values()]
    p, name = max(options, key=lambda o: o[0])
    if p > 0:
        return (f"{name} wins a majority in {format_probability(p, result.runs)} of "
                f"{result.runs:,} simulated elections.")
    return f"No list or coalition wins a majority in any of {result.runs:,} simulated elections."


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


# --- reports (electsim report) --------------------------------------------------------------------

REPORT_FORMATS = ("md", "csv", "json", "html", "png", "svg")
MAX_COALITIONS_SHOWN = 20  # discovered minimal winning coalitions in the report's table and chart


@dataclass
class Report:
    """Everything a report shows: the result, the coalitions worth showing, and the backtest."""

    election: Election
    result: Result
    coalitions: list[str]  # configured coalitions, then discovered minimal winning ones
    discovered: list[str]
    cutoff: float
    backtest: object | None = None
    search_note: str = ""  # how the coalition search was bounded, and what it left out
    sweep: object | None = None  # the config's [[scenario]] tables on the same draws (SweepResult)

    @property
    def left_out(self) -> list[str]:
        """Discovered coalitions beyond the :data:`MAX_COALITIONS_SHOWN` most likely: in the data
        files (JSON, CSV), not in the Markdown table or the chart."""
        return self.discovered[MAX_COALITIONS_SHOWN:]

    def left_out_note(self, formats: tuple[str, ...] = REPORT_FORMATS) -> str:
        """One line on the coalitions :attr:`left_out` ("" when none): how many, how likely at
        most, and where they all are."""
        if not self.left_out:
            return ""
        top = max(self.result.coalitions[n].p_majority for n in self.left_out)
        where = [f for f, fmt in (("coalitions.csv", "csv"), ("report.json", "json")) if fmt in formats]
        k = len(self.left_out)
        text = (f"… and {k:,} more minimal winning coalitions, each with P(majority) of at most"
                if k > 1 else "… and 1 more minimal winning coalition, with P(majority)")
        return (f"{text} {format_probability(top, self.result.runs)}"
                + (f"; all are in {' and '.join(where)}." if where else
                   "; a report with --format csv or json has them all."))


def make_report(election: Election, runs: int | None = None, seed: int | None = None,
                threads: int | None = None, cutoff: float = 0.05, progress=None,
                cluster=None) -> Report:
    """Simulate with the configured coalitions plus candidate ones (found by a pilot simulation,
    see :mod:`simulator.coalitions`), find the minimal winning coalitions, and score the forecast
    against ``[result]`` when there is one. With ``cluster``, the simulation and the scenarios
    run on its workers (the coalition search's pilot runs here)."""
    from .backtest import backtest
    from .coalitions import candidate_coalitions, minimal_winning, with_candidates
    from .engine import simulate
    from .streams import fresh_seed

    if not 0.0 < cutoff < 1.0:
        raise InputError(f"coalition cutoff must be between 0 and 1 (got {cutoff})")
    seed = election.simulation.seed if seed is None else seed
    seed = fresh_seed() if seed is None else seed
    if seed < 0:
        raise InputError(f"seed must be non-negative (got {seed})")
    if threads is not None:
        from .engine import use_threads

        use_threads(threads)
    search = candidate_coalitions(election, cutoff, seed)
    extended = with_candidates(election, search.candidates)
    total = election.simulation.runs if runs is None else runs
    phases = 2 if election.scenarios else 1
    result = simulate(extended, runs=runs, seed=seed, analysis=True, cluster=cluster,
                      progress=None if progress is None else lambda d, t: progress(d, phases * t))
    sweep = None
    if election.scenarios:
        from .scenarios import sweep as run_sweep

        sweep = run_sweep(election, runs=total, seed=seed, cluster=cluster,
                          progress=None if progress is None else lambda d, t: progress(t + d, 2 * t))
    # the config to re-run is the user's: its coalitions, not the candidates
    result.settings["config"]["coalition"] = [{"name": c.name, "members": list(c.members)}
                                              for c in election.coalitions]
    configured = [c.name for c in election.coalitions]
    discovered = minimal_winning(result, cutoff, set(configured))
    return Report(election=election, result=result, coalitions=configured + discovered,
                  discovered=discovered, cutoff=cutoff, backtest=backtest(election, result),
                  search_note=search.note({p.id: p.name for p in election.parties}), sweep=sweep)


def _shown(report: Report, capped: bool = False) -> Result:
    """The result restricted to the coalitions the report shows: configured and minimal winning
    ones, with ``capped`` only the :data:`MAX_COALITIONS_SHOWN` most likely of the latter (the
    Markdown table and the chart; the data files have them all)."""
    r = report.result
    hidden = set(report.left_out) if capped else set()
    return dataclasses.replace(r, coalitions={n: r.coalitions[n] for n in report.coalitions
                                              if n not in hidden})


def report_json(report: Report) -> dict:
    doc = _shown(report).to_json()
    doc["minimal_winning_coalitions"] = report.discovered
    doc["coalition_cutoff"] = report.cutoff
    doc["summary"] = summary_line(_shown(report))
    doc["coalition_search"] = report.search_note
    if report.backtest is not None:
        doc["backtest"] = report.backtest.to_json()
    if report.sweep is not None:
        doc["scenarios"] = report.sweep.to_json()["scenarios"]
    return doc


def report_markdown(report: Report, formats: tuple[str, ...] = REPORT_FORMATS) -> str:
    """The report in Markdown (``formats``: the files written beside it, which it may point to)."""
    result = _shown(report, capped=True)
    rules = report.election.rules
    n = result.runs
    lines = [f"# {result.election}", "", f"**{summary_line(result)}**", "",
             f"Error model: {result.error_model}.", ""]
    ks = [("majority", rules.majority)]
    if rules.blocking_minority:
        ks.append(("blocking minority", rules.blocking_minority))
    head = ("| Party | Vote share | 90 % interval | Mean seats | Median | 90 % interval | "
            + " | ".join(f"P(≥ {k} seats, {label})" for label, k in ks) + " | P(threshold) |")
    lines += [head, "|---|---:|---:|---:|---:|---:|" + "---:|" * len(ks) + "---:|"]
    for p in result.parties.values():
        cells = " | ".join(format_estimate(p.p_at_least(k), standard_error(p.p_at_least(k), n), n)
                           for _, k in ks)
        lines.append(f"| {p.name} | {p.mean_share:.1f} % | {p.share_p05:.1f}–{p.share_p95:.1f} % "
                     f"| {p.mean_seats:.1f} | {p.seats_p50} | {p.seats_p05}–{p.seats_p95} | {cells} "
                     f"| {format_probability(p.p_threshold, n)} |")
    from .charts import MIN_MEAN_SEATS, left_out_parties

    if left_out_parties(result):
        lines += ["", "The seat charts (seat projection, seat distributions"
                  + (", seats by district" if result.districts else "") + ") show the lists with "
                  f"at least {MIN_MEAN_SEATS:g} seats on average; left out (mean seats): "
                  + ", ".join(f"{result.parties[p].name} ({result.parties[p].mean_seats:.1f})"
                              for p in left_out_parties(result)) + "."]
    lines += ["", "## Coalitions", ""]
    if result.coalitions:
        lines += ["| Coalition | Members | Mean seats | 90 % interval | P(majority) | |", "|---|---|---:|---:|---:|---|"]
        for c in result.coalitions.values():
            tag = "minimal winning" if c.name in report.discovered else "from the config"
            lines.append(f"| {c.display_name} | {', '.join(c.member_names or c.members)} | {c.mean_seats:.1f} | {c.seats_p05}–{c.seats_p95} "
                         f"| {format_estimate(c.p_majority, c.p_majority_se, n)} | {tag} |")
        if report.left_out:
            lines += ["", report.left_out_note(formats)]
    else:
        lines.append("No coalition in the config, and none of two or more lists is minimal winning "
                     f"with a probability of at least {100 * report.cutoff:g} %.")
    if report.search_note:
        lines += ["", report.search_note]
    if result.analysis:
        lines += ["", "## Places and power", ""] + analysis_markdown(result)
    if report.sweep is not None:
        lines += ["", "## Scenarios", ""] + sweep_markdown(report.sweep)
    if result.districts:
        lines += ["", "## Seats by district", "",
                  "Mean seats, 90 % interval and P(at least one seat) of each list that wins seats "
                  "anywhere, district by district.", ""]
        ids = [p for p in result.parties if any(result.districts[d][p].mean_seats > 0.05
                                                for d in result.districts)]
        lines += ["| District | Seats | " + " | ".join(result.parties[p].name for p in ids) + " |",
                  "|---|---:|" + "---:|" * len(ids)]
        for d in report.election.districts:
            cells = []
            for p in ids:
                x = result.districts[d.id][p]
                cells.append(f"{x.mean_seats:.1f} ({x.seats_p05}–{x.seats_p95}; "
                             f"{format_probability(x.p_seat, n)})")
            lines.append(f"| {d.name} | {d.seats} | " + " | ".join(cells) + " |")
    lines += ["", "## Polls used", "",
              "| Firm | Fieldwork end | Sample size | Weight | Effective sample size |",
              "|---|---|---:|---:|---:|"]
    for poll in result.settings.get("polls", []):
        lines.append(f"| {poll['firm']} | {poll['date'] or ''} | {poll['sample_size']:,.0f} "
                     f"| {poll['weight']:.3g} | {poll['effective_size']:,.0f} |")
    lines += ["", "Weight 0: outside the poll window (house effects only). The effective sample size "
                  "is the sample size over the design effect, less what the uncertainty of the "
                  "firm's house effect takes."]
    if report.backtest is not None:
        bt = report.backtest
        lines += ["", "## Backtest against the actual result", "",
                  f"Brier score of the majority calls: {bt.brier:.3g} (mean over lists); log score: "
                  f"{bt.log_score:.3f}; actual seats inside the 90 % interval for "
                  f"{100 * bt.coverage_90:.0f} % of lists, actual vote share inside its 90 % interval "
                  f"for {100 * bt.share_coverage_90:.0f} %.", "",
                  "| Party | Actual share | 90 % interval | Actual seats | Forecast mean | 90 % interval | Percentile | In interval |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        for s in bt.parties:
            lines.append(f"| {s.name} | {s.actual_share:.1f} % | {s.share_p05:.1f}–{s.share_p95:.1f} % "
                         f"| {s.actual_seats} | {s.forecast_mean:.1f} | {s.seats_p05}–{s.seats_p95} "
                         f"| {s.percentile:.1f} | {'yes' if s.in_90_interval else 'no'} |")
    lines += ["", f"_{n:,} simulated elections, seed {result.seed}; intervals are central 90 %; ± is "
                  "the Monte Carlo standard error in percentage points; a probability seen in no run "
                  "is shown as its 95 % upper bound, 3 / runs._", ""]
    return "\n".join(lines)


def backtest_csv(report: Report) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ("id", "name", "actual_seats", "forecast_mean", "seats_p05", "seats_p95", "percentile",
            "in_90_interval", "p_majority", "won_majority", "brier", "log_score", "actual_share",
            "share_p05", "share_p95", "in_share_interval")
    w.writerow(cols)
    for s in report.backtest.parties:
        w.writerow([getattr(s, c) for c in cols])
    return buf.getvalue()


def report_html(report: Report, images: dict[str, bytes],
                formats: tuple[str, ...] = REPORT_FORMATS) -> str:
    """A self-contained page: the Markdown tables as HTML and the PNG charts inline (data URIs)."""
    import base64
    import html

    md = report_markdown(report, formats).splitlines()
    body = []
    i = 0
    while i < len(md):
        line = md[i]
        if line.startswith("|"):
            rows = []
            while i < len(md) and md[i].startswith("|"):
                rows.append([c.strip() for c in md[i].strip("|").split("|")])
                i += 1
            body.append("<table>")
            body.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in rows[0]) + "</tr>")
            for r in rows[2:]:
                body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>")
            body.append("</table>")
            continue
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.strip():
            body.append(f"<p>{html.escape(line.strip('*_'))}</p>")
        i += 1
    for name, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        body.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(name.replace('_', ' '))}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em}"
             "td{text-align:right}td:first-child{text-align:left}img{max-width:100%}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(report.result.election)}</title><style>{style}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def parse_formats(formats: str | tuple[str, ...]) -> tuple[str, ...]:
    """Report formats from "md,png" (or a tuple); an unknown or empty list is an InputError."""
    if isinstance(formats, str):
        formats = tuple(f.strip().lower() for f in formats.split(",") if f.strip())
    unknown = [f for f in formats if f not in REPORT_FORMATS]
    if unknown or not formats:
        raise InputError(f"unknown report format {(unknown or [''])[0]!r}; "
                         f"expected some of {', '.join(REPORT_FORMATS)}")
    return tuple(formats)


REPORT_FILES = ("report.md", "report.json", "report.html", "parties.csv", "coalitions.csv",
                "seat_distribution.csv", "backtest.csv", "scenarios.csv")


def check_report_dir(out: str | Path, inputs=()) -> Path:
    """Fail early, before any simulation, when the report directory cannot be one (an existing
    file, a parent that cannot be written) or a report file there would be one of ``inputs``."""
    return check_output_dir(out, inputs, REPORT_FILES)


def render_report(report: Report, formats: tuple[str, ...] = REPORT_FORMATS) -> dict[str, str | bytes]:
    """Every file of the report, by file name, rendered in memory (nothing written yet)."""
    from . import charts

    formats = parse_formats(formats)
    shown = _shown(report)
    files: dict[str, str | bytes] = {}
    if "md" in formats:
        files["report.md"] = report_markdown(report, formats)
    if "json" in formats:
        files["report.json"] = json.dumps(report_json(report), indent=2) + "\n"
    if "csv" in formats:
        files["parties.csv"] = parties_csv(shown)
        files["coalitions.csv"] = coalitions_csv(shown)
        files["seat_distribution.csv"] = seat_distribution_csv(shown)
        if report.backtest is not None:
            files["backtest.csv"] = backtest_csv(report)
        if report.sweep is not None:
            files["scenarios.csv"] = sweep_csv(report.sweep)
    capped = _shown(report, capped=True)  # the charts show what the Markdown table shows
    drawn = {name: fn for name, fn in charts.CHARTS.items()
             if name != "district_seats" or shown.districts}
    drawn["coalitions"] = lambda election, result, fmt: charts.coalition_probabilities(
        election, result, fmt, note=report.left_out_note(formats))
    if report.sweep is not None:
        drawn["scenarios"] = lambda election, _, fmt: charts.scenario_differences(report.sweep, election, fmt)
    pngs = {}
    if "png" in formats or "html" in formats:
        pngs = {name: fn(report.election, capped, "png") for name, fn in drawn.items()}
    if "png" in formats:
        files.update({f"{name}.png": data for name, data in pngs.items()})
    if "svg" in formats:
        files.update({f"{name}.svg": fn(report.election, capped, "svg") for name, fn in drawn.items()})
    if "html" in formats:
        files["report.html"] = report_html(report, pngs, formats)
    return files


def write_report(out_dir: str | Path, files: dict[str, str | bytes]) -> list[Path]:
    """Write every file into ``out_dir`` (created if missing) as one set (:class:`Outputs`): on
    any failure nothing is left behind, and files of an earlier report there keep their contents."""
    out = check_report_dir(out_dir)
    created = [p for p in [out, *out.parents] if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create output directory ({exc.strerror})") from None
    try:
        with Outputs() as outputs:
            for name, data in files.items():
                outputs.add(out / name, data)
            return outputs.commit()
    except BaseException as exc:
        for d in created:  # the directories this call made, innermost first
            with contextlib.suppress(OSError):
                d.rmdir()
        if isinstance(exc, OSError):
            raise InputError(f"{out}: cannot write report ({exc.strerror})") from None
        raise


# --- calibration (electsim calibrate) -------------------------------------------------------------

CALIBRATION_ROWS = (
    ("50 % share intervals: outcomes inside", lambda s: _pct(s.share_coverage[0.5])),
    ("80 % share intervals: outcomes inside", lambda s: _pct(s.share_coverage[0.8])),
    ("90 % share intervals: outcomes inside", lambda s: _pct(s.share_coverage[0.9])),
    ("50 % seat intervals: outcomes inside", lambda s: _pct(s.seat_coverage[0.5])),
    ("80 % seat intervals: outcomes inside", lambda s: _pct(s.seat_coverage[0.8])),
    ("90 % seat intervals: outcomes inside", lambda s: _pct(s.seat_coverage[0.9])),
    ("CRPS of the share (points, lower is better)", lambda s: f"{s.crps:.3f}"),
    ("Brier score, P(majority)", lambda s: f"{s.brier.get('majority', float('nan')):.4f}"),
    ("Brier score, P(first place)", lambda s: f"{s.brier.get('first', float('nan')):.4f}"),
    ("Brier score, P(threshold)", lambda s: f"{s.brier.get('threshold', float('nan')):.4f}"),
    ("log score, P(majority)", lambda s: f"{s.log_score.get('majority', float('nan')):.4f}"),
    ("log score, P(first place)", lambda s: f"{s.log_score.get('first', float('nan')):.4f}"),
    ("log score, P(threshold)", lambda s: f"{s.log_score.get('threshold', float('nan')):.4f}"),
)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def calibration_caption(cal) -> str:
    how = ("each election forecast with the polling error fitted on the others (leave one election "
           "out)" if cal.fitted else "the calibrated model with the shipped polling error")
    return (f"{len(cal.elections)} elections, {cal.summaries['sampling'].lists} lists; {how}; "
            f"{cal.runs:,} runs each; both models pool the polls of the last 21 days")


def calibration_table(cal) -> Table:
    """Terminal table: every score of the sampling-only and the calibrated model side by side."""
    table = Table(title="Calibration: forecasts of past elections against their results",
                  caption=calibration_caption(cal))
    table.add_column("score")
    for m in cal.summaries:
        table.add_column("sampling error only" if m == "sampling" else m, justify="right")
    for label, fmt in CALIBRATION_ROWS:
        table.add_row(label, *(fmt(s) for s in cal.summaries.values()))
    return table


def calibration_markdown(cal) -> str:
    lines = ["# Calibration", "", calibration_caption(cal) + ".", "",
             "| score | " + " | ".join("sampling error only" if m == "sampling" else m
                                      for m in cal.summaries) + " |",
             "|---|" + "---:|" * len(cal.summaries)]
    for label, fmt in CALIBRATION_ROWS:
        lines.append(f"| {label} | " + " | ".join(fmt(s) for s in cal.summaries.values()) + " |")
    if cal.fit is not None:
        p = cal.fit.params
        tails = "normal" if p.df == float("inf") else f"Student t with {p.df:g} df"
        lines += ["", f"Fitted on every election: scale {p.scale:.4f} (log scale, a list at 10 %), "
                      f"size exponent {p.size_exponent:.3f}, drift {p.drift:.3f} per 30 days, "
                      f"{tails} (chosen by the held-out log score: "
                      + ", ".join(f"{k} df: {v:.1f}" for k, v in cal.fit.to_json()["loeo_log_score"].items())
                      + ")."]
    lines += ["", "## Elections", "",
              "| election | lists | 90 % share intervals holding the result (sampling / calibrated) |",
              "|---|---:|---:|"]
    for name in cal.elections:
        rows = {m: [s for s in cal.scores if s.election == name and s.model == m] for m in cal.summaries}
        inside = " / ".join(f"{sum(s.covered(0.9) for s in r)}" for r in rows.values())
        lines.append(f"| {name} | {len(rows['sampling'])} | {inside} |")
    return "\n".join(lines) + "\n"


CALIBRATION_COLUMNS = ("election", "id", "model", "share", "share_p05", "share_p25", "share_p50",
                       "share_p75", "share_p95", "pit", "crps", "seats", "seats_p05", "seats_p95",
                       "p_majority", "won_majority", "p_first", "first", "p_threshold", "passed")


def calibration_csv(cal) -> str:
    """One row per list, election and model: the forecast's quantiles, the outcome, the scores."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CALIBRATION_COLUMNS)
    for s in cal.scores:
        q, sq = s.share_quantiles, s.seat_quantiles
        w.writerow([s.election, s.id, s.model, s.share, q[0.05], q[0.25], q[0.5], q[0.75], q[0.95],
                    s.pit, s.crps, s.seats, sq[0.05], sq[0.95], s.p_majority, s.won_majority,
                    s.p_first, s.first, "" if s.p_threshold is None else s.p_threshold, s.passed])
    return buf.getvalue()


def calibration_files(cal, formats: tuple[str, ...] = ("md", "csv", "json", "png", "svg")) -> dict:
    """Every file of ``calibrate --out``, rendered in memory."""
    from .charts import calibration_chart

    files: dict[str, str | bytes] = {}
    if "md" in formats:
        files["calibration.md"] = calibration_markdown(cal)
    if "csv" in formats:
        files["calibration.csv"] = calibration_csv(cal)
    if "json" in formats:
        files["calibration.json"] = json.dumps(cal.to_json(), indent=2) + "\n"
    for fmt in ("png", "svg"):
        if fmt in formats:
            files[f"calibration.{fmt}"] = calibration_chart(cal, fmt)
    return files
