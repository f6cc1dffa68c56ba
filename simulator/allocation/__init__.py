"""Seat allocation: public, checked entry points over the compiled kernels.

* :func:`kernel_rules` turns a config's rules into the arrays the kernels take.
* :func:`allocate_batch` allocates a 2-D array of votes or shares (runs x lists) in parallel.
* :func:`allocate_result` allocates an election's official result and explains it list by list.

The slow twin of every kernel is :func:`simulator.allocation.reference.allocate_reference`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Election, Rules, quota_threshold
from ..errors import InputError
from .districts import DistrictStage, allocate_districts_batch_kernel, district_stage
from .kernels import METHOD_CODES, SeatStage, allocate_batch_kernel, seat_stage
from .reference import allocate_reference, eligibility

__all__ = [
    "KernelRules",
    "kernel_rules",
    "allocate_batch",
    "allocate_result",
    "allocate_reference",
    "AllocationRow",
    "district_rules",
    "allocate_districts",
    "district_seats",
]


@dataclass(frozen=True)
class KernelRules:
    """A config's rules as the kernels take them: typed, contiguous, one entry per list."""

    seats: int
    method: int
    thresholds: np.ndarray  # float64, percent, per list
    minority: np.ndarray  # bool, per list
    exempt: bool
    cnum: float  # minority coefficient = cnum / cden, both integers
    cden: float

    def args(self) -> tuple:
        """The trailing kernel arguments after (votes, bases): seats ... cden."""
        return (self.seats, self.method, self.thresholds, self.minority, self.exempt, self.cnum,
                self.cden)

    def stage(self, base: float) -> SeatStage:
        """The engine's seat-stage record for simulated elections with threshold base ``base``."""
        return seat_stage(*self.args(), base)


def kernel_rules(rules: Rules, parties) -> KernelRules:
    """Per-list arrays from the election rules and the parties (in config order)."""
    coef = rules.coefficient_fraction
    return KernelRules(
        seats=int(rules.seats),
        method=METHOD_CODES.get(rules.method, 0),  # a law's other methods: its own kernel
        thresholds=np.array(
            [rules.threshold if p.threshold is None else p.threshold for p in parties], np.float64
        ),
        minority=np.array([p.minority for p in parties], np.bool_),
        exempt=bool(rules.minority_exempt),
        cnum=float(coef.numerator),
        cden=float(coef.denominator),
    )


def allocate_batch(votes, rules: KernelRules, bases=None) -> np.ndarray:
    """Seats for every row of ``votes`` (runs x lists, votes or shares); returns int32 (runs x lists).

    ``bases`` is the threshold base per row (default: the row's sum, i.e. valid votes). Rows are
    allocated in parallel on numba's threads; the result does not depend on how many.
    """
    votes = np.ascontiguousarray(votes, dtype=np.float64)
    if votes.ndim != 2 or votes.shape[1] != rules.thresholds.shape[0]:
        raise InputError(
            f"votes must be a 2-D array with {rules.thresholds.shape[0]} columns, got shape {votes.shape}"
        )
    if not np.isfinite(votes).all() or (votes < 0).any():
        raise InputError("votes must be finite and non-negative")
    if bases is None:
        bases = votes.sum(axis=1)
    bases = np.ascontiguousarray(np.broadcast_to(bases, (votes.shape[0],)), dtype=np.float64)
    out = np.empty(votes.shape, np.int32)
    allocate_batch_kernel(votes, bases, *rules.args(), out)
    return out


@dataclass(frozen=True)
class AllocationRow:
    """One list in an allocated result."""

    id: str
    name: str
    votes: float
    share: float  # percent of the threshold base
    minority: bool
    qualified: bool  # reached its threshold
    takes_part: bool  # qualified, or minority and exempt, or nobody qualified
    seats: int
    by_tier: tuple[tuple[str, int], ...] = ()  # a law of tiers: the seats of each tier, in order


def _district_threshold(rules: Rules, district) -> float:
    """A district's threshold with threshold_scope = "district": its own, else the election's;
    the election's "quota" is each district's own quota (one of its seats' worth)."""
    if district.threshold is not None:
        return district.threshold
    return quota_threshold(district.seats) if rules.threshold_quota else rules.threshold


def district_rules(election: Election) -> DistrictStage:
    """The district kernels' record of an election with districts: per district and list, the
    threshold (a list's own, else its district's, else the election's) and the seats."""
    rules = election.rules
    kr = kernel_rules(rules, election.parties)
    if election.law is not None and election.districts:  # the law's district tier, if they can
        from .plan import one_tier_code

        code = one_tier_code(election.law)
        if code >= 0:
            thresholds = np.array([election.law.thresholds], np.float64)
            return district_stage([d.seats for d in election.districts], code, thresholds, True,
                                  kr.minority, False, 1.0, 1.0)
    if not election.districts:  # an empty record, so that every election compiles alike
        return district_stage(np.zeros(0, np.int64), kr.method, np.zeros((0, kr.thresholds.size)),
                              True, kr.minority, kr.exempt, kr.cnum, kr.cden)
    national = rules.threshold_scope == "national"
    rows = [kr.thresholds] if national else [
        np.array([_district_threshold(rules, d)] * len(election.parties))
        for d in election.districts]
    thresholds = np.array(rows, np.float64)
    if not national:  # a list's own threshold wins over its district's
        own = np.array([p.threshold is not None for p in election.parties])
        thresholds[:, own] = kr.thresholds[own]
    return district_stage([d.seats for d in election.districts], kr.method, thresholds, national,
                          kr.minority, kr.exempt, kr.cnum, kr.cden)


def allocate_districts(votes, rest, stage: DistrictStage) -> np.ndarray:
    """Seats (elections x districts x lists, int32) of elections given as votes (elections x
    districts x lists) and votes in the base that win nothing (elections x districts); see
    :mod:`simulator.allocation.districts`."""
    votes = np.ascontiguousarray(votes, np.float64)
    rest = np.ascontiguousarray(rest, np.float64)
    if votes.ndim != 3 or votes.shape[1:] != (stage.seats.shape[0], stage.minority.shape[0]):
        raise InputError(f"votes must be elections x {stage.seats.shape[0]} districts x "
                         f"{stage.minority.shape[0]} lists, got shape {votes.shape}")
    if not np.isfinite(votes).all() or (votes < 0).any() or (rest < 0).any():
        raise InputError("votes must be finite and non-negative")
    out = np.empty(votes.shape, np.int32)
    allocate_districts_batch_kernel(votes, rest, stage, out)
    return out


def district_seats(election: Election) -> dict[str, dict[str, int]]:
    """The seats of the config's ``[result]`` district by district: ``{district: {party: n}}``."""
    if election.law is not None:
        from .plan import law_seats

        seats = law_seats(election)
        return {d.id: {p.id: int(seats[k, i]) for i, p in enumerate(election.parties)}
                for k, d in enumerate(election.districts)}
    res = election.result
    seats = allocate_districts(res.district_votes[None], res.district_rest[None],
                               district_rules(election))[0]
    return {d.id: {p.id: int(seats[k, i]) for i, p in enumerate(election.parties)}
            for k, d in enumerate(election.districts)}


def allocate_result(election: Election) -> list[AllocationRow]:
    """Allocate the config's ``[result]`` and return one row per party, in config order (with
    districts: national votes, shares and qualification, and the seats summed over districts)."""
    if election.result is None:
        raise InputError(f"{election.path}: result: no [result] table to allocate")
    if election.law is not None:
        return _law_result(election)
    ids = election.party_ids
    votes = np.array([election.result.votes[p] for p in ids], np.float64)
    rules = election.rules
    base = float(election.result.valid_votes)
    if rules.threshold_base == "cast":
        base = float(election.result.votes_cast)
    kr = kernel_rules(rules, election.parties)
    if election.districts:
        by_district = district_seats(election)
        seats = np.array([sum(by_district[d][p] for d in by_district) for p in ids])
        if rules.threshold_scope == "district":  # qualified: somewhere
            res = election.result
            stage = district_rules(election)
            flags = [eligibility(res.district_votes[k].tolist(), stage.thresholds[k].tolist(),
                                 float(res.district_votes[k].sum() + res.district_rest[k]),
                                 kr.minority.tolist(), kr.exempt) for k in range(len(by_district))]
            qualified = [any(f[0][i] for f in flags) for i in range(len(ids))]
            takes_part = [any(f[1][i] for f in flags) for i in range(len(ids))]
        else:
            qualified, takes_part = eligibility(votes.tolist(), kr.thresholds.tolist(), base,
                                                kr.minority.tolist(), kr.exempt)
    else:
        seats = allocate_batch(votes[None, :], kr, bases=np.array([base]))[0]
        qualified, takes_part = eligibility(
            votes.tolist(), kr.thresholds.tolist(), base, kr.minority.tolist(), kr.exempt
        )
    return [
        AllocationRow(
            id=p.id,
            name=p.name,
            votes=float(votes[i]),
            share=100.0 * float(votes[i]) / base,
            minority=p.minority,
            qualified=qualified[i],
            takes_part=takes_part[i],
            seats=int(seats[i]),
        )
        for i, p in enumerate(election.parties)
    ]


def _law_result(election: Election) -> list[AllocationRow]:
    """:func:`allocate_result` under a law of tiers: the compiled kernel's seats, split by tier
    by the exact reference (which must agree with it: a disagreement is a bug, said as one)."""
    from .plan import law_seats, result_arrays
    from .tiers_reference import allocate_law_reference

    law = election.law
    votes, rest = result_arrays(election)
    seats = law_seats(election)
    dseats = [d.seats for d in election.districts] or [election.rules.seats]
    trace: dict = {}
    exact = allocate_law_reference(law, election.rules.seats, dseats, votes.tolist(), rest.tolist(),
                                   trace)
    if exact != seats.tolist():
        raise RuntimeError(f"{election.path}: the compiled law kernel and its reference disagree on "
                           "the result (a bug: please report the config)")
    national = votes.sum(axis=0)
    base = float(national.sum() + rest.sum())
    tiers = [t for t in ("bonus", "district", "remainder", "levelling") if t in trace]
    names = {"bonus": law.bonus.name if law.bonus else "",
             "district": "district" if election.districts else "proportional",
             "remainder": law.remainder.name if law.remainder else "",
             "levelling": law.levelling.name if law.levelling else ""}
    total = seats.sum(axis=0)
    # qualified: for the levelling seats where the law has them (the district tier may have none)
    qualified = trace.get("levelling_qualified") or trace["qualified"]
    return [
        AllocationRow(
            id=p.id, name=p.name, votes=float(national[i]), share=100.0 * float(national[i]) / base,
            minority=False, qualified=bool(qualified[i]),
            takes_part=bool(qualified[i] or total[i] > 0), seats=int(total[i]),
            by_tier=tuple((names[t], int(trace[t][i])) for t in tiers))
        for i, p in enumerate(election.parties)
    ]
