"""Analysis of the simulated parliaments, tallied while streaming: P(rank), power indices, votes
against seats, and the last seat.

Per run, from its vote shares and seats:

* **rank**: each list's place by seats (ties: more votes first, then the list listed first), and
  the list first by votes;
* **power**: the normalised Banzhaf index (a list's swings, coalitions it turns from winning to
  losing by leaving, over all lists' swings) and the Shapley-Shubik index (its share of the orders
  in which it brings the majority) of every list in the game of the seat holders with the
  majority as quota, and whether it is pivotal in at least one minimal winning coalition
  ("kingmaker": a winning coalition every member of which is pivotal). Exact, for any number of
  seat holders: by enumerating their coalitions as bitmasks when they are few
  (:func:`power_indices`, 2^m coalitions), else by counting coalitions by size and weight
  (:func:`power_counting`, m^2 x majority steps), whichever is cheaper; a list with a majority
  alone is a dictator (1, 1, pivotal; the others 0). Counted in one run in ``POWER_THIN`` (the
  runs whose place in their block is a multiple of it);
* **votes against seats**: whether a list (or coalition) has a majority of the valid votes of the
  lists that take part but not a majority of the seats, or the reverse;
* **the last seat** (one district, divisor or largest-remainder methods): the list that won the
  last seat, the list that came next, and the margin between them in points of the valid vote
  (the share the runner-up lacked, from the quotients as the kernel compares them).

Indices are summed as integers of ``POWER_UNIT`` per run, so tallies merge exactly.
"""

from __future__ import annotations

import itertools
import math
from collections import namedtuple
from fractions import Fraction

import numba as nb
import numpy as np

from .allocation.kernels import BLOCK, DHONDT, HARE_NIEMEYER, SAINTE_LAGUE

POWER_UNIT = 2.0**-24
POWER_THIN = 8
ENUMERATE_MAX = 12  # seat holders up to which enumerating may beat counting (2^12 coalitions)
MARGIN_BINS = 5000  # the last seat's margin in points, bins of MARGIN_STEP, and one overflow bin
MARGIN_STEP = 0.002

AnalysisSpec = namedtuple("AnalysisSpec", (
    "enabled",  # bool: tally the analysis at all (it costs about 120 ns a run on Belgrade)
    "majority", "method", "seats", "thresholds", "base", "minority", "exempt", "cnum", "cden",
    "coalition_members",  # (coalitions x lists) bool
    "last_seat",  # bool: one district (the last seat is defined)
    "power",  # bool: the power indices too (off only to time them: electsim bench --sweep)
))


def power_reference(seats: list[int], quota: int) -> tuple[list[float], list[float], list[bool]]:
    """Banzhaf (normalised) and Shapley-Shubik indices and pivotal-in-a-minimal-winning-coalition
    flags, by brute force over every coalition and every order (plain Python, exact fractions)."""
    n = len(seats)
    swings = [0] * n
    pivotal = [False] * n
    for size in range(1, n + 1):
        for coalition in itertools.combinations(range(n), size):
            total = sum(seats[i] for i in coalition)
            if total < quota:
                continue
            critical = [i for i in coalition if total - seats[i] < quota]
            for i in critical:
                swings[i] += 1
            if len(critical) == len(coalition):
                for i in coalition:
                    pivotal[i] = True
    total_swings = sum(swings)
    banzhaf = [Fraction(s, total_swings) if total_swings else Fraction(0) for s in swings]
    shapley = [Fraction(0)] * n
    orders = 0
    for order in itertools.permutations(range(n)):
        orders += 1
        running = 0
        for i in order:
            running += seats[i]
            if running >= quota:
                shapley[i] += 1
                break
    shapley = [Fraction(x, orders) for x in shapley]
    return [float(x) for x in banzhaf], [float(x) for x in shapley], pivotal


_FACTORIALS = np.array([math.factorial(k) for k in range(31)], np.float64)  # enumeration: <= 30


_LOWEST = np.array([0] + [(x & -x).bit_length() - 1 for x in range(1, 1 << 12)], np.int64)


@nb.njit(cache=True, error_model="numpy", inline="always")
def _lowest(x):
    """The index of the lowest set bit of x > 0."""
    if x < (1 << 12):
        return _LOWEST[x]
    j = 0
    while not (x >> j) & 1:
        j += 1
    return j


@nb.njit(cache=True, error_model="numpy")
def power_indices(w, quota, banzhaf, shapley, pivotal, scratch):
    """Banzhaf and Shapley-Shubik indices and minimal-winning pivots of the players with weights
    ``w`` (all > 0; at most 30, and few: the cost is 2^len(w)) and ``quota``, into the three arrays, by enumerating
    every coalition as a bitmask: a coalition's weight is its lowest member's plus that of the
    coalition without it (already computed, as it is a smaller number); in a winning coalition
    whose weight exceeds the quota by e, the members heavier than e are its swings (each weighs
    (k - 1)! (m - k)! / m! for Shapley-Shubik, k its size), and it is minimal winning when all
    are. ``scratch``: float64, 2 x at least 2**len(w) (allocated here when too small)."""
    m = w.shape[0]
    masks = 1 << m
    if scratch.shape[1] < masks:
        scratch = np.empty((2, masks))
    total, size = scratch[0], scratch[1]
    total[0] = 0.0
    size[0] = 0.0
    for i in range(m):
        banzhaf[i] = 0.0
        shapley[i] = 0.0
        pivotal[i] = False
    swings = 0.0
    for x in range(1, masks):
        j = _lowest(x)
        rest = x & (x - 1)
        t = total[rest] + w[j]
        total[x] = t
        k = size[rest] + 1.0
        size[x] = k
        if t < quota:
            continue
        excess = t - quota
        coef = _FACTORIALS[np.int64(k) - 1] * _FACTORIALS[m - np.int64(k)]
        critical = 0
        y = x
        while y:
            i = _lowest(y)
            y &= y - 1
            if w[i] > excess:
                banzhaf[i] += 1.0
                shapley[i] += coef
                critical += 1
        swings += critical
        if critical == k:
            y = x
            while y:
                pivotal[_lowest(y)] = True
                y &= y - 1
    for i in range(m):
        shapley[i] /= _FACTORIALS[m]
        if swings > 0.0:
            banzhaf[i] /= swings


@nb.njit(cache=True, error_model="numpy")
def power_counting(w, quota, banzhaf, shapley, pivotal, scratch):
    """:func:`power_indices` by counting instead of enumerating, in O(m^2 q) for m players and
    quota q (whole-number weights below the quota, as seats are), where enumerating costs
    O(2^m m): the generating function of the coalitions, A[s, t] = how many coalitions of s
    players weigh t (t < q), is built player by player; removing player i again (C[s, t] =
    A[s, t] - C[s - 1, t - w_i], upwards in t) counts the coalitions without i, and those of
    weight in [q - w_i, q) are the ones i swings: their number is its Banzhaf count, and with
    the weight s! (m - 1 - s)! / m! of each size its Shapley-Shubik index. A player is in a
    minimal winning coalition when some coalition S holding it wins and still loses without its
    lightest member l: with the players in order of weight, S is l and a subset T of those
    before l with w(T) in [q - w_l, q), and counting subsets of those before l by weight, with
    player i removed as above, says whether such a T holds i. Counts are float64: exact while
    they stay below 2^53 (fewer than 53 players). ``scratch``: float64, at least
    (2 m + 2) x q."""
    m = w.shape[0]
    q = np.int64(quota)
    if scratch.shape[0] < 2 * m + 2 or scratch.shape[1] < q:
        scratch = np.empty((2 * m + 2, q))
    a = scratch[:m + 1]  # A[s, t], sizes 0..m (size m only matters past the quota)
    c = scratch[m + 1: 2 * m + 1]  # C[s, t] of the player being removed, sizes 0..m-1
    cnt = scratch[2 * m + 1]  # subsets of the heavier players, by weight
    for x in range(m + 1):
        for t in range(q):
            a[x, t] = 0.0
    a[0, 0] = 1.0
    for j in range(m):
        wj = np.int64(w[j])
        for x in range(j + 1, 0, -1):
            for t in range(q - 1, wj - 1, -1):
                a[x, t] += a[x - 1, t - wj]
    swings = 0.0
    for i in range(m):
        wi = np.int64(w[i])
        lo = max(q - wi, 0)
        b = 0.0
        ss = 0.0
        coef = 1.0 / m  # s! (m - 1 - s)! / m! for s = 0, then by its ratio
        for x in range(m):
            for t in range(q):
                c[x, t] = a[x, t] - (c[x - 1, t - wi] if x > 0 and t >= wi else 0.0)
            k = 0.0
            for t in range(lo, q):
                k += c[x, t]
            b += k
            ss += k * coef
            if x < m - 1:
                coef *= (x + 1.0) / (m - 1.0 - x)
        banzhaf[i] = b
        shapley[i] = ss
        swings += b
        pivotal[i] = False
    for i in range(m):
        banzhaf[i] = banzhaf[i] / swings if swings > 0.0 else 0.0
    order = np.argsort(-w, kind="mergesort")  # heaviest first, ties in their order
    for t in range(q):
        cnt[t] = 0.0
    cnt[0] = 1.0
    free = c[0]  # scratch row: the counts without one player
    for pos in range(m):
        l = order[pos]
        wl = np.int64(w[l])
        lo = max(q - wl, 0)
        for t in range(lo, q):
            if cnt[t] > 0.5:
                pivotal[l] = True
                break
        for y in range(pos):
            i = order[y]
            if pivotal[i]:
                continue
            wi = np.int64(w[i])
            for t in range(q):
                free[t] = cnt[t] - (free[t - wi] if t >= wi else 0.0)
            for t in range(max(lo - wi, 0), max(q - wi, 0)):
                if free[t] > 0.5:
                    pivotal[i] = True
                    break
        for t in range(q - 1, wl - 1, -1):
            cnt[t] += cnt[t - wl]


@nb.njit(cache=True, error_model="numpy", inline="always")
def _divisor(method, k):
    """The divisor of a list's (k+1)-th seat."""
    if method == DHONDT:
        return k + 1.0
    if method == SAINTE_LAGUE:
        return 2.0 * k + 1.0
    return 1.4 if k == 0 else 2.0 * k + 1.0


@nb.njit(cache=True, error_model="numpy")
def analysis_block(src, sb, nr, spec, a, scratch):
    """Add the first nr runs of a block (vote shares ``src``, seats ``sb``: lists x runs) to the
    analysis tally ``a``. ``scratch`` from :func:`analysis_scratch`. Loops run across runs, so
    that they vectorise; the power indices' enumeration runs run by run, one in POWER_THIN."""
    n = src.shape[0]
    n_c = spec.coalition_members.shape[0]
    (place, wt, taking, best, any_q, lo, hi, win, lose, order, vals, b_out, s_out, p_out, masks,
     table) = scratch
    for i in range(n):  # a key that orders by seats, then votes (shares are below 1)
        for r in range(nr):
            wt[i, r] = sb[i, r] + 0.5 * src[i, r]
    for i in range(n):  # places: keys ahead, and equal keys listed before
        for r in range(nr):
            place[i, r] = 0
        for j in range(n):
            before = j < i
            for r in range(nr):
                kj = wt[j, r]
                ki = wt[i, r]
                place[i, r] += 1 if (kj > ki) | ((kj == ki) & before) else 0
    for r in range(nr):
        best[r] = 0
        any_q[r] = 0.0
        taking[r] = 0.0
    for i in range(1, n):
        for r in range(nr):
            best[r] = i if src[i, r] > src[best[r], r] else best[r]
    for i in range(n):  # qualified (with votes, over the threshold), as the kernels decide
        t = spec.thresholds[i] * spec.base
        for r in range(nr):
            v = src[i, r]
            q = 1.0 if (v > 0.0) & (v * 100.0 >= t) else 0.0
            wt[i, r] = q
            any_q[r] = max(any_q[r], q)
    for i in range(n):  # weights of the lists that take part (0 for the others)
        minor = spec.minority[i]
        ex = spec.exempt and minor
        for r in range(nr):
            v = src[i, r]
            q = wt[i, r]
            part = (q > 0.0) | (ex & (v > 0.0)) | ((any_q[r] == 0.0) & (v > 0.0))
            f = spec.cnum if minor & (q == 0.0) else spec.cden
            wt[i, r] = v * f if part else 0.0
            taking[r] += v if part else 0.0
    for r in range(nr):
        a.first_by_votes[best[r]] += 1
        for i in range(n):
            a.rank[i, place[i, r]] += 1
    for k in range(n + n_c):  # majorities of votes (among the lists taking part) and of seats
        for r in range(nr):
            lo[r] = 0.0  # votes
            hi[r] = 0.0  # seats
        for i in range(n):
            if (i == k) if k < n else spec.coalition_members[k - n, i]:
                for r in range(nr):
                    lo[r] += src[i, r] if wt[i, r] > 0.0 else 0.0
                    hi[r] += sb[i, r]
        v_not_s = 0
        s_not_v = 0
        for r in range(nr):
            vote_major = lo[r] * 2.0 > taking[r]
            seat_major = hi[r] >= spec.majority
            v_not_s += vote_major & (not seat_major)
            s_not_v += seat_major & (not vote_major)
        a.vote_not_seat[k] += v_not_s
        a.seat_not_vote[k] += s_not_v
    if spec.last_seat:
        _last_seat(src, sb, nr, spec.method, spec.seats, wt, lo, hi, win, lose, a.last_won,
                   a.last_lost, a.margin_hist)
    power_counts = np.zeros(1, np.int64)
    banzhaf, shapley, pivotal = a.banzhaf, a.shapley, a.pivotal
    for r in range(0, nr if spec.power else 0, POWER_THIN):
        _power_run(sb, r, spec.majority, banzhaf, shapley, pivotal, power_counts, order, vals,
                   b_out, s_out, p_out, masks, table)
    a.power_runs[0] += power_counts[0]


@nb.njit(cache=True, error_model="numpy")
def _power_run(sb, r, majority, banzhaf, shapley, pivotal, counts, order, vals, b_out, s_out,
               p_out, masks, table):
    """One run's power indices added to the sums (arrays, not the tally record: a record is
    copied at every call, and this runs once a run). ``counts[0]``: runs counted. The seat
    holders' game is solved by enumeration when they are few (:func:`power_indices`: 2^m
    coalitions) and by counting otherwise (:func:`power_counting`: m^2 x majority), whichever
    costs less; both are exact."""
    n = sb.shape[0]
    counts[0] += 1
    m = 0
    for i in range(n):
        if sb[i, r] >= majority:  # a dictator
            banzhaf[i] += np.int64(1.0 / POWER_UNIT)
            shapley[i] += np.int64(1.0 / POWER_UNIT)
            pivotal[i] += 1
            return
        if sb[i, r] > 0.0:
            order[m] = i
            m += 1
    for x in range(m):
        vals[x] = sb[order[x], r]
    if m <= ENUMERATE_MAX and (1 << m) * 8 < m * m * majority:
        power_indices(vals[:m], majority, b_out, s_out, p_out, masks)
    else:
        power_counting(vals[:m], majority, b_out, s_out, p_out, table)
    for x in range(m):
        i = order[x]
        banzhaf[i] += np.int64(b_out[x] / POWER_UNIT + 0.5)
        shapley[i] += np.int64(s_out[x] / POWER_UNIT + 0.5)
        pivotal[i] += p_out[x]


@nb.njit(cache=True, error_model="numpy")
def _last_seat(src, sb, nr, method, seats, wt, lo, hi, win, lose, last_won, last_lost, margins):
    """Per run: the list that won the last seat (the smallest quotient, or remainder, that won a
    seat), the list that came next (the largest that did not), and the margin: the points of
    the valid vote the runner-up lacked."""
    n = src.shape[0]
    hare = method == HARE_NIEMEYER
    for r in range(nr):
        lo[r] = 1e300
        hi[r] = -1.0
        win[r] = -1
        lose[r] = -1
    quota = hi.copy()
    if hare:
        for r in range(nr):
            quota[r] = 0.0
        for i in range(n):
            for r in range(nr):
                quota[r] += wt[i, r]
        for r in range(nr):
            quota[r] = quota[r] / seats
    for i in range(n):
        for r in range(nr):
            w = wt[i, r]
            if w <= 0.0:
                continue
            s = sb[i, r]
            if hare:
                x = w / quota[r]
                full = math.floor(x)
                rem = x - full
                if s > full:
                    if rem < lo[r]:
                        lo[r] = rem
                        win[r] = i
                elif rem > hi[r]:
                    hi[r] = rem
                    lose[r] = i
            else:
                if s > 0.0:
                    q = w / _divisor(method, s - 1.0)
                    if q < lo[r]:
                        lo[r] = q
                        win[r] = i
                q = w / _divisor(method, s)
                if q > hi[r]:
                    hi[r] = q
                    lose[r] = i
    for r in range(nr):
        i, j = win[r], lose[r]
        if i < 0 or j < 0:
            continue
        factor = wt[j, r] / src[j, r]
        if hare:
            margin = (lo[r] - hi[r]) * quota[r] / factor
        else:
            margin = (lo[r] * _divisor(method, sb[j, r]) - wt[j, r]) / factor
        last_won[i] += 1
        last_lost[j] += 1
        b = np.int64(max(margin, 0.0) * 100.0 / MARGIN_STEP)
        margins[min(b, MARGIN_BINS)] += 1


@nb.njit(cache=True)
def analysis_scratch(n, majority):
    """Scratch of :func:`analysis_block` (allocate once per chunk)."""
    return (np.empty((n, BLOCK), np.int64), np.empty((n, BLOCK)), np.empty(BLOCK),
            np.empty(BLOCK, np.int64), np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK),
            np.empty(BLOCK, np.int64), np.empty(BLOCK, np.int64),
            np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n),
            np.empty(n, np.bool_), np.empty((2, 1 << ENUMERATE_MAX)),
            np.empty((2 * n + 2, max(majority, 1))))
