"""A config's law (:class:`simulator.laws.Law`) as the record the tier kernel walks, and the
checked entry points over that kernel.

* :func:`law_stage` builds the :class:`~simulator.allocation.tiers.LawStage` of an election;
* :func:`allocate_law` allocates elections given as votes (elections x districts x lists);
* :func:`law_seats` allocates the config's ``[result]`` (per district, and split by tier).

The slow twin is :func:`simulator.allocation.tiers_reference.allocate_law_reference`.
"""

from __future__ import annotations

from fractions import Fraction

import numba as nb
import numpy as np

from ..config import Election
from ..errors import InputError
from ..laws import DIVISORS, Law, Method
from .tiers import ASSIGN_QUOTIENT, ASSIGN_REGIONS, ASSIGN_RELATIVE, LawStage, allocate_law_row, law_scratch

# Simulated shares are multiplied by this before a quota of whole votes (Droop's, or one rounded)
# is formed, unless the config's result gives the valid votes: such a quota needs vote counts.
WHOLE_VOTES = 1_000_000.0


def method_row(method: Method) -> np.ndarray:
    """[quota code, d(0), a, b], the divisors scaled to whole numbers (see tiers.py)."""
    if not method.divisor:
        return np.array([float(method.quota), float(method.rounding == "nearest"), 0.0, 0.0])
    a, b, _ = DIVISORS[method.name]
    f = Fraction(method.first_divisor)
    q = f.denominator
    return np.array([0.0, float(f.numerator), float(q * a), float(q * b)])


def one_tier_code(law: Law) -> int:
    """The one-tier kernels' method code of the law's district tier when they can allocate it
    exactly as the tier kernel would (a divisor method they know, no district route, no second
    scrutiny): the engine then runs that tier on them, vectorised across elections; else -1."""
    from .kernels import METHOD_CODES

    m = law.method
    if law.district_route is not None or law.remainder is not None or law.bonus is not None:
        return -1
    if m.name == "dhondt" and m.first_divisor == 1:
        return METHOD_CODES["dhondt"]
    if m.name in ("sainte-lague", "modified-sainte-lague"):
        if m.first_divisor == 1:
            return METHOD_CODES["sainte-lague"]
        if m.first_divisor == Fraction(7, 5):
            return METHOD_CODES["modified-sainte-lague"]
    return -1


def _whole_votes(law: Law) -> bool:
    """The law forms a quota of whole votes (Droop's, or one rounded), which needs vote counts."""
    ms = [law.method] + [t.method for t in (law.remainder, law.levelling) if t is not None]
    return any(m.name == "droop" or m.rounding is not None for m in ms)


def law_stage(election: Election) -> LawStage:
    """The tier kernel's record of an election (an inactive one when it has no law)."""
    n = len(election.parties)
    law = election.law
    if law is None:
        z = np.zeros(0, np.int64)
        return LawStage(False, 0, z, np.zeros(n), -1.0, np.zeros((4, 4)), False, False,
                        np.zeros(4), np.zeros(n), 0, 0, z, 0, 0, z, z, False, np.zeros(0), z, 1.0,
                        False, False)
    dseats = ([d.seats for d in election.districts] if election.districts
              else [election.rules.seats])
    scale = 1.0
    if _whole_votes(law):
        res = election.result
        scale = float(res.valid_votes) if res is not None else WHOLE_VOTES
    stage = stage_of(law, int(election.rules.seats), dseats, n, scale)
    whole = law.method.name == "droop" or law.method.rounding == "nearest"
    return stage._replace(one_tier=bool(election.districts) and one_tier_code(law) >= 0,
                          quota_block=bool(election.districts) and law.remainder is not None
                          and law.district_route is None and law.bonus is None and whole)


def stage_of(law: Law, house: int, dseats, n: int, scale: float = 1.0) -> LawStage:
    """The record of ``law`` for a house of ``house`` seats, districts of ``dseats`` fixed seats
    (one district for a national law) and ``n`` lists."""
    D = len(dseats)
    lev = law.levelling
    dummy = Method("dhondt", Fraction(1))
    methods = np.array([method_row(law.method),
                        method_row(law.remainder.method if law.remainder else dummy),
                        method_row(lev.assign_method if lev else dummy),
                        method_row(lev.district_method if lev and lev.district_method else dummy)])
    bonus = law.bonus
    return LawStage(
        active=True, house=int(house), dseats=np.array(dseats, np.int64),
        thresholds=np.array(law.thresholds, np.float64),
        route=-1.0 if law.district_route is None else float(law.district_route),
        methods=methods, remainder=law.remainder is not None, levelling=lev is not None,
        lev_method=method_row(lev.method) if lev else np.zeros(4),
        lev_thresholds=np.array(lev.thresholds if lev else [0.0] * n, np.float64),
        lev_seats_route=int(lev.qualify_district_seats or 0) if lev else 0,
        lev_regions_route=int(lev.qualify_regions or 0) if lev else 0,
        regions=np.array(law.regions or [0] * D, np.int64), n_regions=len(law.region_names),
        assign={"relative-quotient": ASSIGN_RELATIVE, "regions": ASSIGN_REGIONS}.get(
            lev.assign if lev else "", ASSIGN_QUOTIENT),
        caps=np.array(law.caps or [0] * D, np.int64),
        region_caps=np.array(lev.region_seats if lev and lev.region_seats else [0], np.int64),
        bonus=bonus is not None,
        bonus_shares=np.array([s for s, _ in bonus.schedule] if bonus else [], np.float64),
        bonus_seats=np.array([k for _, k in bonus.schedule] if bonus else [], np.int64),
        scale=scale, one_tier=False, quota_block=False)


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _allocate_law_batch(votes, rest, p, out):
    """Elections in parallel, by tasks of ``_TASK`` elections that each allocate their scratch
    once; the seats do not depend on how the tasks fall."""
    E, D, n = votes.shape
    for t in nb.prange((E + _TASK - 1) // _TASK):
        work, _, _, seats, _ = law_scratch(p, n)
        for e in range(t * _TASK, min(E, (t + 1) * _TASK)):
            allocate_law_row(votes[e], rest[e], p, work, seats)
            for d in range(D):
                for i in range(n):
                    out[e, d, i] = seats[d, i]


_TASK = 256


def allocate_law(votes, rest, stage: LawStage) -> np.ndarray:
    """Seats (elections x districts x lists, int32) of elections given as ``votes`` (elections x
    districts x lists, vote counts or shares) and ``rest`` (elections x districts: valid votes
    that win nothing), by the plan ``stage``; elections in parallel."""
    votes = np.ascontiguousarray(votes, np.float64)
    rest = np.ascontiguousarray(rest, np.float64)
    D = stage.dseats.shape[0]
    if votes.ndim != 3 or votes.shape[1:] != (D, stage.thresholds.shape[0]):
        raise InputError(f"votes must be elections x {D} districts x {stage.thresholds.shape[0]} "
                         f"lists, got shape {votes.shape}")
    if rest.shape != votes.shape[:2]:
        raise InputError(f"rest must be elections x {D} districts, got shape {rest.shape}")
    if not np.isfinite(votes).all() or (votes < 0).any() or not np.isfinite(rest).all() or (rest < 0).any():
        raise InputError("votes must be finite and non-negative")
    out = np.empty(votes.shape, np.int32)
    _allocate_law_batch(votes, rest, stage, out)
    return out


def result_arrays(election: Election) -> tuple[np.ndarray, np.ndarray]:
    """The config's ``[result]`` as (districts x lists votes, per-district rest): one district
    for a national result."""
    res = election.result
    if res is None:
        raise InputError(f"{election.path}: result: no [result] table to allocate")
    if res.district_votes is not None:
        return res.district_votes, res.district_rest
    votes = np.array([[res.votes[p] for p in election.party_ids]], np.float64)
    return votes, np.array([res.other_votes])


def law_seats(election: Election) -> np.ndarray:
    """Seats (districts x lists) of the config's ``[result]`` under its law."""
    votes, rest = result_arrays(election)
    return allocate_law(votes[None], rest[None], law_stage(election))[0]


__all__ = ["law_stage", "stage_of", "allocate_law", "law_seats", "result_arrays", "WHOLE_VOTES"]
