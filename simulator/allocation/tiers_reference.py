"""Plain-Python reference of the tier laws (:mod:`simulator.laws`): slow, exact, obviously right.

Every number is a :class:`fractions.Fraction`; divisor methods hand out seats one at a time to the
highest quotient; quotas are formed and compared exactly. The oracle of the compiled
:mod:`simulator.allocation.tiers`, which walks the same plan and must give the same seats.

Seats never vanish: a district where no list that takes part has votes allocates among every list
with votes there, and when no list qualifies for levelling seats every list with votes does.

Ties, everywhere: a tie on a quotient, a remainder or a relative quotient goes to the list with
more votes (in the unit compared: national votes for national tiers, district votes in a
district), then to the list first in the config, then to the district first in the config. A
list that loses a seat to a quota excess is the one with the smallest remainder; on a tie, fewer
votes, then the one last in the config. Laws settle exact ties by lot; a fixed rule keeps runs
reproducible.
"""

from __future__ import annotations

import math
from fractions import Fraction

from ..laws import Law, Method


def _quota(method: Method, total: Fraction, seats: int) -> Fraction:
    code = method.quota
    if code == 2:
        return Fraction(math.floor(total / (seats + 1)) + 1)
    q = total / (seats + {1: 0, 3: 1, 4: 2}[code])
    if method.rounding == "nearest":  # to a whole number of votes, halves up
        q = Fraction(max(1, math.floor(q + Fraction(1, 2))))
    return q


def divisor_seats(method: Method, votes: list[Fraction], takes: list[bool], seats: int) -> list[int]:
    """Seats one at a time to the highest quotient votes / d(seats held)."""
    n = len(votes)
    out = [0] * n
    if not any(takes):
        return out
    for _ in range(seats):
        best = max((i for i in range(n) if takes[i]),
                   key=lambda i: (votes[i] / method.divisor_at(out[i]), votes[i], -i))
        out[best] += 1
    return out


def quota_whole(method: Method, votes: list[Fraction], takes: list[bool], seats: int,
                excess: str) -> tuple[list[int], list[Fraction]]:
    """Whole quotas (a quota excess cut back by the law's rule); returns (seats, remainders), the
    remainders being votes - seats * quota (0 for lists that do not take part)."""
    n = len(votes)
    out = [0] * n
    rem = [Fraction(0)] * n
    total = sum(votes[i] for i in range(n) if takes[i])
    if total <= 0 or seats <= 0:
        return out, rem
    q = _quota(method, total, seats)
    for i in range(n):
        if takes[i]:
            out[i] = math.floor(votes[i] / q)
            rem[i] = votes[i] - out[i] * q
    cut = set()
    while sum(out) > seats:  # smallest-remainder-loses, once per list and round; the loser's
        cands = [i for i in range(n) if takes[i] and out[i] > 0 and i not in cut]
        if not cands:  # every holder lost one: another round
            cut.clear()
            continue
        loser = min(cands, key=lambda i: (rem[i], votes[i], -i))
        out[loser] -= 1
        rem[loser] += q  # remainder grows by the quota it no longer fills
        cut.add(loser)
    return out, rem


def quota_seats(method: Method, votes: list[Fraction], takes: list[bool], seats: int,
                excess: str) -> list[int]:
    """Largest remainder: whole quotas, then one more seat each to the largest remainders (in
    rounds, if a law's quota leaves more seats than lists)."""
    n = len(votes)
    out, rem = quota_whole(method, votes, takes, seats, excess)
    if not any(takes[i] and votes[i] > 0 for i in range(n)):
        return out
    left = seats - sum(out)
    while left > 0:
        order = sorted((i for i in range(n) if takes[i]), key=lambda i: (rem[i], votes[i], -i),
                       reverse=True)
        for i in order[:left]:
            out[i] += 1
        left -= min(left, len(order))
    return out


def method_seats(method: Method, votes, takes, seats, excess) -> list[int]:
    if method.divisor:
        return divisor_seats(method, votes, takes, seats)
    return quota_seats(method, votes, takes, seats, excess)


def bonus_seats(law: Law, national: list[Fraction], base: Fraction) -> tuple[int, int]:
    """(the list with the most votes, its bonus seats by the schedule)."""
    n = len(national)
    first = max(range(n), key=lambda i: (national[i], -i))
    seats = 0
    for share, s in law.bonus.schedule:
        if national[first] > 0 and national[first] * 100 >= Fraction(share) * base:
            seats = s
    return first, seats


def allocate_law_reference(law: Law, house: int, district_seats: list[int], votes, rest,
                           trace: dict | None = None) -> list[list[int]]:
    """Seats (districts x lists) of one election: ``votes`` districts x lists, ``rest`` per
    district the valid votes of lists that win nothing (others, blank); ``district_seats`` the
    fixed seats of each district (one district for a national law). See :mod:`simulator.laws`.
    With ``trace`` (a dict), each tier's seats per list are put in it by tier kind."""
    V = [[Fraction(x) for x in row] for row in votes]
    R = [Fraction(x) for x in rest]
    D, n = len(V), len(V[0])
    nat = [sum(V[d][i] for d in range(D)) for i in range(n)]
    base = sum(nat) + sum(R)
    dseats = list(district_seats)
    first, bonus = (None, 0)
    if law.bonus is not None:
        first, bonus = bonus_seats(law, nat, base)
        dseats[0] -= bonus
    # the district tier
    qualified = [nat[i] > 0 and nat[i] * 100 >= Fraction(law.thresholds[i]) * base for i in range(n)]
    if not any(qualified):
        qualified = [x > 0 for x in nat]
    seats = []
    rems = []
    for d in range(D):
        dbase = sum(V[d]) + R[d]
        takes = [V[d][i] > 0 and (qualified[i] or (law.district_route is not None and
                                                   V[d][i] * 100 >= Fraction(law.district_route) * dbase))
                 for i in range(n)]
        if not any(takes):  # nobody qualified has votes here: every list with votes takes part
            takes = [x > 0 for x in V[d]]
        if law.remainder is not None:
            s, r = quota_whole(law.method, V[d], takes, dseats[d], law.quota_excess)
        else:
            s, r = method_seats(law.method, V[d], takes, dseats[d], law.quota_excess), None
        seats.append(s)
        rems.append(r)
    def totals():
        return [sum(seats[d][i] for d in range(D)) for i in range(n)]

    before = totals()
    if trace is not None:
        trace["district"] = before
        trace["qualified"] = qualified
    if law.remainder is not None:
        _second_scrutiny(law, seats, rems, dseats, qualified, V)
        after = totals()
        if trace is not None:
            trace["remainder"] = [a - b for a, b in zip(after, before)]
        before = after
    if law.levelling is not None:
        q = _levelling(law, house, seats, V, R, nat, base, dseats)
        if trace is not None:
            trace["levelling"] = [a - b for a, b in zip(totals(), before)]
            trace["levelling_qualified"] = q
    if law.bonus is not None:
        seats[0][first] += bonus
        if trace is not None:
            trace["bonus"] = [bonus if i == first else 0 for i in range(n)]
    return seats


def _second_scrutiny(law, seats, rems, dseats, qualified, V):
    """The seats the whole quotas left, nationally by the remainders; each list's seats back to
    the districts where its remainder is largest, one per district (whichever districts had
    seats left: a district's total can differ from its fixed seats, as the Czech law has it)."""
    D, n = len(seats), len(seats[0])
    unfilled = [dseats[d] - sum(seats[d]) for d in range(D)]
    left = sum(unfilled)
    if left <= 0:
        return
    national_rem = [sum(rems[d][i] for d in range(D)) if qualified[i] else Fraction(0)
                    for i in range(n)]
    takes = [qualified[i] and national_rem[i] > 0 for i in range(n)]
    if not any(takes):  # no remainder anywhere: by the qualified lists' votes
        national_rem = [sum(V[d][i] for d in range(D)) if qualified[i] else Fraction(0)
                        for i in range(n)]
        takes = [x > 0 for x in national_rem]
    second = quota_seats(law.remainder.method, national_rem, takes, left, law.quota_excess)
    for i in range(n):
        order = sorted(range(D), key=lambda d: (rems[d][i], V[d][i], -d), reverse=True)
        for k in range(second[i]):  # more seats than districts: round again
            seats[order[k % D]][i] += 1


def levelling_qualified(law, seats, V, R, nat, base) -> list[bool]:
    lev = law.levelling
    D, n = len(V), len(nat)
    won = [sum(seats[d][i] for d in range(D)) for i in range(n)]
    q = [nat[i] > 0 and nat[i] * 100 >= Fraction(lev.thresholds[i]) * base for i in range(n)]
    if lev.qualify_district_seats is not None:
        q = [q[i] or won[i] >= lev.qualify_district_seats for i in range(n)]
    if lev.qualify_regions is not None:
        k = len(law.region_names)
        rv = [[sum(V[d][i] for d in range(D) if law.regions[d] == r) for i in range(n)]
              for r in range(k)]
        rt = [sum(sum(V[d]) + R[d] for d in range(D) if law.regions[d] == r) for r in range(k)]
        rs = [sum(sum(seats[d]) for d in range(D) if law.regions[d] == r) for r in range(k)]
        for i in range(n):
            hits = sum(1 for r in range(k) if rs[r] > 0 and rv[r][i] > 0 and rv[r][i] * rs[r] >= rt[r])
            q[i] = q[i] or hits >= lev.qualify_regions
    if not any(q):  # nobody qualified: every list with votes takes part
        q = [x > 0 for x in nat]
    return q


def entitlement(law, house, seats, nat, q) -> tuple[list[int], list[bool]]:
    """Each qualified list's national entitlement over the house less the seats of the lists that
    do not qualify; a list whose district seats exceed it keeps them and is left out of a
    recomputation (repeated until none does). Returns (entitlement, levelled)."""
    lev = law.levelling
    D, n = len(seats), len(nat)
    won = [sum(seats[d][i] for d in range(D)) for i in range(n)]
    active = list(q)
    avail = house - sum(won[i] for i in range(n) if not q[i])
    while True:
        ent = method_seats(lev.method, nat, active, avail, law.quota_excess)
        over = [i for i in range(n) if active[i] and won[i] > ent[i]]
        if not over:
            return ent, active
        for i in over:
            active[i] = False
            avail -= won[i]


def _levelling(law, house, seats, V, R, nat, base, dseats):
    lev = law.levelling
    D, n = len(V), len(nat)
    q = levelling_qualified(law, seats, V, R, nat, base)
    ent, active = entitlement(law, house, seats, nat, q)
    won = [sum(seats[d][i] for d in range(D)) for i in range(n)]
    extra = [ent[i] - won[i] if active[i] else 0 for i in range(n)]
    method = lev.assign_method
    if lev.assign == "regions":
        _assign_regions(law, seats, V, extra)
        return q
    if lev.assign == "quotient":
        for i in range(n):
            for _ in range(extra[i]):
                d = max(range(D), key=lambda d: (V[d][i] / method.divisor_at(seats[d][i]), -d))
                seats[d][i] += 1
        return q
    # relative-quotient (Norway): every (district, list) pair's quotient divided by the district's
    # valid votes per district seat, in one ranking; a district drops out when its levelling seats
    # are given, a list when its levelling seats are placed; ties to more votes in the district
    caps = list(law.caps)
    dvotes = [sum(V[d]) + R[d] for d in range(D)]
    while sum(extra) > 0:
        cands = [(V[d][i] * dseats[d] / (method.divisor_at(seats[d][i]) * dvotes[d]), V[d][i], -i, -d)
                 for d in range(D) for i in range(n)
                 if caps[d] > 0 and extra[i] > 0 and dvotes[d] > 0]
        if not cands:
            raise ValueError("levelling seats left with no district to take them")
        _, _, mi, md = max(cands)
        i, d = -mi, -md
        seats[d][i] += 1
        caps[d] -= 1
        extra[i] -= 1
    return q


def _assign_regions(law, seats, V, extra):
    """Denmark: the levelling seats to regions by one ranking of every (region, list) quotient
    after the seats the list won there (a region closes at its levelling seats, a list at its
    own); then each list's seats of a region to the region's districts by their quotients."""
    lev = law.levelling
    D, n = len(V), len(V[0])
    k = len(law.region_names)
    rv = [[sum(V[d][i] for d in range(D) if law.regions[d] == r) for i in range(n)] for r in range(k)]
    held = [[sum(seats[d][i] for d in range(D) if law.regions[d] == r) for i in range(n)]
            for r in range(k)]
    caps = list(lev.region_seats)
    got = [[0] * n for _ in range(k)]
    extra = list(extra)
    m = lev.assign_method
    while sum(extra) > 0:
        cands = [(rv[r][i] / m.divisor_at(held[r][i]), rv[r][i], -i, -r) for r in range(k)
                 for i in range(n) if caps[r] > 0 and extra[i] > 0 and rv[r][i] > 0]
        if not cands:
            raise ValueError("levelling seats left with no region to take them")
        _, _, mi, mr = max(cands)
        i, r = -mi, -mr
        got[r][i] += 1
        held[r][i] += 1
        caps[r] -= 1
        extra[i] -= 1
    dm = lev.district_method
    for r in range(k):
        for i in range(n):
            for _ in range(got[r][i]):
                d = max((d for d in range(D) if law.regions[d] == r),
                        key=lambda d: (V[d][i] / dm.divisor_at(seats[d][i]), -d))
                seats[d][i] += 1
