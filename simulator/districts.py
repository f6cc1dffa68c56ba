"""Districts: votes by district from CSV files, and national shares turned into district shares by
a swing from a baseline (the previous election's district votes).

District votes are a long CSV, one row per (district, party) pair: ``district,party,votes``. Two
reserved party ids count in a district's threshold base but win nothing: ``others`` (lists the
config does not name) and ``blank`` (blank ballots, where the law counts them as valid, as Spain's
does).

The swing (``[model] swing``), for each simulated election and district d, from the baseline shares
b[d, i] (the config's lists, by ``[baseline.map]``, and the rest as one more part) and their
national shares B[i] to the simulated national shares p[i]:

* ``"proportional"`` (the default, SAPoR's): s[d, i] = b[d, i] * p[i] / B[i];
* ``"uniform"``: s[d, i] = max(b[d, i] + p[i] - B[i], 0);

a list with no baseline votes anywhere (a new list) gets p[i] in every district, and so does every
list in a simulated election where the swing leaves no list a vote in a district (the uniform
swing can), so that a district's seats always have lists to go to. Each district's
shares are then multiplied by independent noise (``district_noise``, see :mod:`simulator.votes`
draws) and **renormalised to sum to 1**, so they stay in [0, 1]: no cap is needed, and a list's
national total moves a little with the renormalisation (the report's national shares are the sums
of the district votes, not the national draw).
"""

from __future__ import annotations

import csv
import math
from collections import namedtuple
from pathlib import Path

import numba as nb
import numpy as np

from .allocation.districts import allocate_districts_block
from .allocation.tiers import allocate_law_block
from .allocation.kernels import BLOCK, block_work
from .config import MAX_VOTES
from .errors import ConfigError, InputError
from .streams import next_u64

RESERVED = ("others", "blank")  # in the base, never seated


def read_district_votes(path: Path, key: str, district_ids: list[str], party_ids: list[str] | None,
                        config_path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a long district CSV. Returns ``(votes, rest, parties)``: votes (districts x parties,
    in ``party_ids`` order, or in order of first appearance when ``party_ids`` is None), the
    reserved ids' votes per district (``rest``), and the party ids. Every mistake is a
    :class:`ConfigError` naming the config key and the CSV's line."""
    where = f"{key} ({path})"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(config_path, key, f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(config_path, key, f"cannot read {path}: {exc}") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or [h.strip() for h in rows[0]] != ["district", "party", "votes"]:
        raise ConfigError(config_path, key, f"{path}: the header must be district,party,votes")
    d_index = {d: k for k, d in enumerate(district_ids)}
    parties = list(party_ids) if party_ids is not None else []
    seen: set[tuple[str, str]] = set()
    cells: list[tuple[int, str, float]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 3:
            raise ConfigError(config_path, key, f"{path}:{line}: 3 fields expected, got {len(row)}")
        district, party, value = (x.strip() for x in row)
        if district not in d_index:
            raise ConfigError(config_path, key,
                              f"{path}:{line}: unknown district {district!r} (not in any [[district]])")
        if party not in RESERVED and party not in parties:
            if party_ids is not None:
                raise ConfigError(config_path, key,
                                  f"{path}:{line}: unknown party {party!r} (not in any [[party]], "
                                  f"nor {' or '.join(RESERVED)})")
            parties.append(party)
        if (district, party) in seen:
            raise ConfigError(config_path, key, f"{path}:{line}: a second row for {district}, {party}")
        seen.add((district, party))
        try:
            votes = float(value)
        except ValueError:
            raise ConfigError(config_path, key, f"{path}:{line}: votes {value!r} is not a number") from None
        if not np.isfinite(votes) or votes < 0 or votes > MAX_VOTES:
            raise ConfigError(config_path, key, f"{path}:{line}: votes {value!r} must be a "
                                                f"non-negative number, at most {MAX_VOTES:g}")
        cells.append((d_index[district], party, votes))
    votes = np.zeros((len(district_ids), len(parties)))
    rest = np.zeros(len(district_ids))
    p_index = {p: k for k, p in enumerate(parties)}
    for d, party, v in cells:
        if party in RESERVED:
            rest[d] += v
        else:
            votes[d, p_index[party]] += v
    empty = [district_ids[d] for d in range(len(district_ids)) if votes[d].sum() + rest[d] <= 0]
    if empty:
        raise ConfigError(config_path, key, f"{where}: district {empty[0]!r} has no votes")
    no_list = [district_ids[d] for d in range(len(district_ids)) if votes[d].sum() <= 0]
    if no_list and party_ids is not None:  # a result: its seats would go to nobody
        raise ConfigError(config_path, key, f"{where}: district {no_list[0]!r} has votes only for "
                          f"{' and '.join(RESERVED)}: its seats could go to no list of the config")
    return votes, rest, parties


def baseline_shares(votes: np.ndarray, rest: np.ndarray, parties: list[str],
                    mapping: dict[str, tuple[str, ...]], ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The baseline as shares per district (districts x (lists + 1): the config's lists by
    ``mapping`` (a list of today continues the baseline lists it names; a list not named in
    ``mapping`` continues the baseline list of its own id, if any), the last column everything
    else), and each district's weight: its share of the national valid votes."""
    totals = votes.sum(axis=1) + rest
    index = {p: k for k, p in enumerate(parties)}
    out = np.zeros((votes.shape[0], len(ids) + 1))
    used = set()
    for i, pid in enumerate(ids):
        for source in mapping.get(pid, (pid,) if pid in index else ()):
            out[:, i] += votes[:, index[source]]
            used.add(source)
    out[:, -1] = totals - out[:, :-1].sum(axis=1)
    return out / totals[:, None], totals / totals.sum()


# --- the district stage of the engine ----------------------------------------------------------------

PROPORTIONAL, UNIFORM = 0, 1
_U8 = 1.0 / 256.0
_BYTE = np.uint64(0xFF)
_TRIANGLE = math.sqrt(6.0)  # the sd of a triangular variable on [-1, 1] is 1 / sqrt(6)

DistrictVotes = namedtuple("DistrictVotes", (
    "active",  # bool: the election has districts
    "base",  # (districts x lists+1) baseline shares; the last column: every other vote
    "national",  # (lists+1,) the baseline's national shares
    "weight",  # (districts,) each district's share of the national valid votes
    "new",  # (lists,) bool: no baseline votes anywhere (gets its national share everywhere)
    "swing",  # PROPORTIONAL or UNIFORM
    "noise",  # sd of each district share's relative noise (triangular; 0: none)
))


def district_votes_record(election, baseline: np.ndarray | None = None,
                          weight: np.ndarray | None = None) -> DistrictVotes:
    """The district stage's record of an election: its ``[baseline]`` (or ``baseline``, shares
    districts x lists+1, and ``weight``) and ``[model] swing, district_noise``. An election
    without districts gets an inactive record."""
    n = len(election.parties)
    if not election.districts:
        return DistrictVotes(False, np.zeros((0, n + 1)), np.zeros(n + 1), np.zeros(0),
                             np.zeros(n, np.bool_), PROPORTIONAL, 0.0)
    if baseline is None:
        if election.baseline is None:
            raise InputError(f"{election.path}: baseline: forecasting districts needs "
                             "[baseline] district_votes (the previous election's)")
        b = election.baseline
        baseline, weight = baseline_shares(b.votes, b.rest, list(b.parties), b.mapping,
                                           list(election.party_ids))
    national = weight @ baseline
    return DistrictVotes(True, np.ascontiguousarray(baseline), national, np.ascontiguousarray(weight),
                         national[:-1] <= 0.0, UNIFORM if election.model.swing == "uniform"
                         else PROPORTIONAL, float(election.model.district_noise))


@nb.njit(cache=True, error_model="numpy")
def district_shares(st, src, nr, dv, dsrc, drest, scratch):
    """District votes (in national units: each district's shares times its weight) of the first
    nr elections whose national list shares are ``src`` (lists x runs): the swing from the
    baseline, the noise, renormalised to 1 in each district (see the module docstring). Writes
    ``dsrc`` (districts x lists x runs) and ``drest`` (districts x runs); ``scratch`` is
    (3 x ``BLOCK`` + 4). The noise of a share is (1 + noise x sqrt(6) t), t triangular on (-1, 1)
    from the sum of two random bytes (511 steps: ample for a noise). Returns the state."""
    n_d = dv.base.shape[0]
    n = src.shape[0]
    rest_share, noise, total = scratch[0], scratch[1], scratch[2]
    for r in range(nr):
        rest_share[r] = 1.0
    for i in range(n):
        for r in range(nr):
            rest_share[r] -= src[i, r]
    for r in range(nr):
        rest_share[r] = rest_share[r] if rest_share[r] > 0.0 else 0.0
    scale = dv.noise * _TRIANGLE
    for d in range(n_d):
        for i in range(n + 1):
            p = src[i] if i < n else rest_share
            out = dsrc[d, i] if i < n else drest[d]
            b = dv.base[d, i]
            big = dv.national[i]
            if i < n and dv.new[i]:  # a new list: its national share everywhere
                for r in range(nr):
                    out[r] = p[r]
            elif dv.swing == PROPORTIONAL:
                f = b / big if big > 0.0 else 0.0
                for r in range(nr):
                    out[r] = p[r] * f
            else:
                off = b - big
                for r in range(nr):
                    x = p[r] + off
                    out[r] = x if x > 0.0 else 0.0
            if scale > 0.0:
                for r in range(0, nr, 4):  # 64 random bits: 4 pairs of bytes
                    bits, st = next_u64(st)
                    for k in range(4):
                        noise[r + k] = np.float64((bits >> np.uint64(16 * k)) & _BYTE) + np.float64(
                            (bits >> np.uint64(16 * k + 8)) & _BYTE)
                for r in range(nr):  # the pair's sum as a triangular variable on (-1, 1), mean 0
                    out[r] *= 1.0 + scale * ((noise[r] + 1.0) * _U8 - 1.0)
        for r in range(nr):  # a district where every list came out at 0 (a uniform swing can
            noise[r] = 0.0  # do that): the lists' national shares there, as a new list's
        for i in range(n):
            for r in range(nr):
                noise[r] += dsrc[d, i, r]
        for r in range(nr):
            if noise[r] <= 0.0:
                for i in range(n):
                    dsrc[d, i, r] = src[i, r]
        for r in range(nr):  # renormalise the district to 1, then weigh it
            total[r] = drest[d, r]
        for i in range(n):
            for r in range(nr):
                total[r] += dsrc[d, i, r]
        for r in range(nr):
            total[r] = dv.weight[d] / total[r] if total[r] > 0.0 else 0.0
            drest[d, r] *= total[r]
        for i in range(n):
            for r in range(nr):
                dsrc[d, i, r] *= total[r]
    return st


@nb.njit(cache=True)
def district_scratch(dv, lists):
    """Scratch of :func:`district_seats_block` (allocate once per chunk)."""
    n_d = dv.base.shape[0]
    return (np.zeros((n_d, lists, BLOCK)), np.zeros((n_d, BLOCK)),
            np.zeros((n_d, lists, BLOCK), np.float32), np.empty((3, BLOCK + 4)),
            (block_work(lists), np.empty((lists, BLOCK)), np.empty((lists, BLOCK)), np.empty(BLOCK),
             np.empty(lists)))


@nb.njit(cache=True, error_model="numpy")
def district_seats_block(st, src, sb, nr, dv, ds, scratch):
    """The district stage: national shares ``src`` (lists x runs) -> district votes by swing and
    noise -> seats district by district (kept in ``scratch[2]``) -> the national seats into ``sb``
    and the national shares (the districts' sums) back into ``src``. Returns the state."""
    dsrc, drest, dseats, shares_scratch, dw = scratch
    st = district_shares(st, src, nr, dv, dsrc, drest, shares_scratch)
    allocate_districts_block(dsrc, drest, nr, ds, dw, dseats)
    sum_districts(dseats, nr, sb)
    sum_districts(dsrc, nr, src)
    return st


@nb.njit(cache=True, error_model="numpy")
def district_law_block(st, src, sb, nr, dv, ds, law, scratch, lscratch):
    """:func:`district_seats_block` with a law of tiers (:mod:`simulator.allocation.tiers`) in
    place of the district kernel (which may run its district tier: ``ds``). Returns the state."""
    dsrc, drest, dseats, shares_scratch, dw = scratch
    st = district_shares(st, src, nr, dv, dsrc, drest, shares_scratch)
    allocate_law_block(dsrc, drest, nr, law, lscratch, dseats, ds, dw)
    sum_districts(dseats, nr, sb)
    sum_districts(dsrc, nr, src)
    return st


@nb.njit(cache=True, error_model="numpy")
def sum_districts(x, nr, out):
    """out[i, r] = the sum over districts d of x[d, i, r], for the first nr runs: the national
    seats or shares of a block from the districts'."""
    for i in range(out.shape[0]):
        for r in range(nr):
            out[i, r] = 0.0
        for d in range(x.shape[0]):
            for r in range(nr):
                out[i, r] += x[d, i, r]
