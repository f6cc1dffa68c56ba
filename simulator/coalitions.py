"""Coalition discovery: which combinations of lists can hold a majority.

A *minimal winning coalition* here is a combination of two or more lists whose probability of a
majority reaches a cutoff while no smaller combination of its members (single lists included)
does. Candidates are the combinations of up to ``max_size`` lists among those with a real chance
in the polls; their majority probabilities come from a simulation with the candidates as coalitions.
"""

from __future__ import annotations

import dataclasses
import itertools

from .config import Coalition, Election
from .votes.model import expected_shares
from .results import Result


def candidate_coalitions(election: Election, max_size: int = 4, max_parties: int = 8,
                         min_share: float = 1.0) -> list[tuple[str, ...]]:
    """Combinations (2..max_size lists) of the lists the polls put at ``min_share`` % or more."""
    shares = expected_shares(election)
    ids = [pid for pid in sorted(shares, key=lambda k: -shares[k]) if shares[pid] >= min_share]
    ids = ids[:max_parties]
    combos = []
    for size in range(2, min(max_size, len(ids)) + 1):
        combos += list(itertools.combinations(ids, size))
    return combos


def with_candidates(election: Election, combos: list[tuple[str, ...]]) -> Election:
    """The election with each candidate added as a coalition (named by its members)."""
    order = {pid: i for i, pid in enumerate(election.party_ids)}
    existing = {tuple(sorted(c.members, key=order.get)) for c in election.coalitions}
    extra = [Coalition(name=" + ".join(c), members=c) for c in combos
             if tuple(sorted(c, key=order.get)) not in existing]
    return dataclasses.replace(election, coalitions=election.coalitions + tuple(extra))


def minimal_winning(result: Result, cutoff: float, configured: set[str]) -> list[str]:
    """Names of the discovered coalitions that are minimal winning at ``cutoff`` (see module doc)."""
    winning = {frozenset(c.members) for c in result.coalitions.values() if c.p_majority >= cutoff}
    winning |= {frozenset([pid]) for pid, p in result.parties.items() if p.p_majority >= cutoff}
    names = []
    for c in result.coalitions.values():
        if c.name in configured or c.p_majority < cutoff:
            continue
        members = frozenset(c.members)
        if not any(w < members for w in winning):
            names.append(c.name)
    return names
