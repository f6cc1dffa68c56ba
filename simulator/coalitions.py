"""Coalition discovery: which combinations of lists can hold a majority.

A *minimal winning coalition* here is a combination of two or more lists whose probability of a
majority reaches a cutoff while no smaller combination of its members (single lists included)
does. The search runs a pilot simulation first (``PILOT_RUNS`` runs, draws kept): every list that
wins a seat in at least one pilot run is a possible member, and every combination of up to
``max_size`` of them is scored on the pilot. The combinations that may be minimal winning (pilot
P(majority) at least half the cutoff, and no part of them at least twice the cutoff: margins far
beyond the pilot's Monte Carlo error) are then simulated with the forecast itself.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from .config import Coalition, Election
from .results import Result

PILOT_RUNS = 20_000
_PILOT_CHUNK = 2**40  # the pilot's random streams: chunks no forecast of a sane size reaches


@dataclass(frozen=True)
class Search:
    candidates: list[tuple[str, ...]]  # combinations worth simulating
    members: list[str]  # lists that won a seat in some pilot run
    never: list[str]  # lists that won no seat in any pilot run
    max_size: int
    pilot_runs: int

    def note(self, names: dict[str, str] | None = None) -> str:
        """What the search covered and what it left out, in one paragraph (lists by their
        ``names``, id to name, where given)."""
        names = names or {}
        text = (f"Coalitions searched: every combination of up to {self.max_size} of the "
                f"{len(self.members)} lists that won a seat in at least one of {self.pilot_runs:,} "
                "pilot runs")
        if self.never:
            text += f"; left out, as they won no seat in any pilot run: {', '.join(names.get(i, i) for i in self.never)}"
        return text + "."


def candidate_coalitions(election: Election, cutoff: float, seed: int, max_size: int = 4,
                         pilot_runs: int = PILOT_RUNS) -> Search:
    """Combinations of 2..max_size lists that may be minimal winning at ``cutoff`` (see the module
    docstring), from a pilot simulation of ``election`` with ``seed``."""
    from .engine import Engine

    engine = Engine(election, chunk_size=pilot_runs)
    _, _, seats = engine.run_chunks(seed, _PILOT_CHUNK, np.array([pilot_runs]), record=True)
    seats = seats[0].astype(np.int32)
    ids = list(election.party_ids)
    winners = [i for i in range(len(ids)) if seats[:, i].max() > 0]
    majority = election.rules.majority
    p_single = {(i,): float(np.mean(seats[:, i] >= majority)) for i in winners}
    most = seats.max(axis=0)
    combos = [c for size in range(2, max_size + 1) for c in _within_reach(winners, most, size, majority)]
    p = dict(p_single)
    as_float = seats.astype(np.float32)  # whole numbers below 2^24: exact sums, BLAS speed
    for start in range(0, len(combos), 256):  # in batches: runs x combinations at a time
        batch = combos[start: start + 256]
        member = np.zeros((len(ids), len(batch)), np.float32)
        for j, c in enumerate(batch):
            member[list(c), j] = 1
        wins = (as_float @ member) >= majority
        p.update(zip(batch, wins.mean(axis=0).tolist()))
    keep = []
    for c in combos:
        if p[c] < cutoff / 2:
            continue
        parts = (s for size in range(1, len(c)) for s in itertools.combinations(c, size))
        if any(p.get(s, 0.0) >= 2 * cutoff for s in parts):  # not scored: no pilot majority
            continue
        keep.append(tuple(ids[i] for i in c))
    return Search(candidates=keep, members=[ids[i] for i in winners],
                  never=[pid for i, pid in enumerate(ids) if i not in winners], max_size=max_size,
                  pilot_runs=pilot_runs)


def _within_reach(members: list[int], most: np.ndarray, size: int, majority: int):
    """The combinations of ``size`` of ``members`` (in :func:`itertools.combinations` order)
    whose most seats in any pilot run add up to a majority: the others won none in the pilot
    (P = 0), so they are never scored. With 60 small lists this skips the half million
    combinations of up to 4 that no run could make a majority."""
    order = sorted(members)
    top = sorted((int(most[i]) for i in order), reverse=True)
    best_rest = [sum(top[:k]) for k in range(size + 1)]  # the most any k members can add

    def grow(start: int, chosen: tuple[int, ...], total: int):
        left = size - len(chosen)
        if left == 0:
            if total >= majority:
                yield chosen
            return
        if total + best_rest[left] < majority:
            return
        for j in range(start, len(order) - left + 1):
            i = order[j]
            yield from grow(j + 1, chosen + (i,), total + int(most[i]))

    yield from grow(0, (), 0)


def with_candidates(election: Election, combos: list[tuple[str, ...]]) -> Election:
    """The election with each candidate added as a coalition (named by its members)."""
    order = {pid: i for i, pid in enumerate(election.party_ids)}
    existing = {tuple(sorted(c.members, key=order.get)) for c in election.coalitions}
    extra = [Coalition(name=" + ".join(c), members=c) for c in combos
             if tuple(sorted(c, key=order.get)) not in existing]
    return dataclasses.replace(election, coalitions=election.coalitions + tuple(extra))


def minimal_winning(result: Result, cutoff: float, configured: set[str]) -> list[str]:
    """Names of the discovered coalitions that are minimal winning at ``cutoff`` (see module doc),
    the most likely majority first (ties by the name people read, then by the name)."""
    winning = {frozenset(c.members) for c in result.coalitions.values() if c.p_majority >= cutoff}
    winning |= {frozenset([pid]) for pid, p in result.parties.items() if p.p_majority >= cutoff}
    names = []
    for c in result.coalitions.values():
        if c.name in configured or c.p_majority < cutoff:
            continue
        members = frozenset(c.members)
        if not any(w < members for w in winning):
            names.append(c.name)
    coalitions = result.coalitions
    return sorted(names, key=lambda n: (-coalitions[n].p_majority, coalitions[n].display_name, n))
