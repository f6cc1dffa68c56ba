"""Plain-Python reference allocation: slow, exact, obviously right. The oracle for the fast kernels.

Every number is a :class:`fractions.Fraction`, so there is no rounding anywhere: a float vote count
is taken at its exact binary value, and the minority coefficient at the exact decimal written in the
config (1.35 -> 27/20). Divisor methods hand out seats one at a time to the highest quotient.

Rules (Serbian law, and the generic rules every method shares):

* A list *qualifies* when it has votes and ``votes * 100 >= threshold * base`` (its own threshold
  if it has one). If no list qualifies, every list with votes takes part.
* Otherwise qualified lists take part, and so do minority lists with votes when minority lists are
  exempt from the threshold.
* The votes of a minority list that does not qualify are multiplied by the minority coefficient
  before quotients (or quotas) are formed.
* Ties on a quotient (or a remainder) go to the list with more votes; if votes are equal too, to the
  list that comes first (first in the config).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from numbers import Real

DIVISOR_METHODS = ("dhondt", "sainte-lague", "modified-sainte-lague")
QUOTA_METHODS = ("hare-niemeyer",)


def divisor(method: str, seats_held: int) -> Fraction:
    """The divisor a list's votes are divided by once it holds ``seats_held`` seats."""
    if method == "dhondt":
        return Fraction(seats_held + 1)
    if method == "sainte-lague":
        return Fraction(2 * seats_held + 1)
    if method == "modified-sainte-lague":
        return Fraction(7, 5) if seats_held == 0 else Fraction(2 * seats_held + 1)
    raise ValueError(f"not a divisor method: {method}")


def eligibility(
    votes: Sequence[Real],
    thresholds: Sequence[Real],
    base: Real,
    minority: Sequence[bool],
    minority_exempt: bool,
) -> tuple[list[bool], list[bool]]:
    """Return (qualified, takes_part) per list; see the module docstring for the rules."""
    v = [Fraction(x) for x in votes]
    b = Fraction(base)
    qualified = [v[i] > 0 and v[i] * 100 >= Fraction(thresholds[i]) * b for i in range(len(v))]
    if not any(qualified):
        return qualified, [x > 0 for x in v]
    takes_part = [
        qualified[i] or (minority_exempt and minority[i] and v[i] > 0) for i in range(len(v))
    ]
    return qualified, takes_part


def allocate_reference(
    votes: Sequence[Real],
    seats: int,
    method: str = "dhondt",
    thresholds: Sequence[Real] | Real = 0,
    base: Real | None = None,
    minority: Sequence[bool] | None = None,
    minority_exempt: bool = False,
    minority_coefficient: Real = 1,
) -> list[int]:
    """Allocate ``seats`` among lists with ``votes``; ``base`` defaults to the sum of the votes.

    ``thresholds`` are percent of ``base``, one per list or one for all.
    """
    n = len(votes)
    if isinstance(thresholds, Real):
        thresholds = [thresholds] * n
    minority = list(minority) if minority is not None else [False] * n
    v = [Fraction(x) for x in votes]
    b = sum(v) if base is None else Fraction(base)
    qualified, takes_part = eligibility(v, thresholds, b, minority, minority_exempt)
    coef = Fraction(minority_coefficient)
    weight = [v[i] * coef if minority[i] and not qualified[i] else v[i] for i in range(n)]
    return allocate_among(v, weight, takes_part, seats, method)


def allocate_among(v: list[Fraction], weight: list[Fraction], takes_part: list[bool], seats: int,
                   method: str) -> list[int]:
    """Seats of the lists that take part, by their (coefficient-scaled) weights; ties to more
    votes ``v``, then to the list first in order."""
    n = len(v)
    seats_won = [0] * n
    if not any(takes_part):
        return seats_won
    if method in DIVISOR_METHODS:
        for _ in range(seats):
            best = max(
                (i for i in range(n) if takes_part[i]),
                key=lambda i: (weight[i] / divisor(method, seats_won[i]), v[i], -i),
            )
            seats_won[best] += 1
        return seats_won
    if method in QUOTA_METHODS:
        total = sum(weight[i] for i in range(n) if takes_part[i])
        quota = {i: weight[i] * seats / total for i in range(n) if takes_part[i]}
        for i, q in quota.items():
            seats_won[i] = int(q)  # floor: q >= 0
        left = seats - sum(seats_won)
        by_remainder = sorted(quota, key=lambda i: (quota[i] - int(quota[i]), v[i], -i), reverse=True)
        for i in by_remainder[:left]:
            seats_won[i] += 1
        return seats_won
    raise ValueError(f"unknown method: {method}")


def allocate_reference_districts(
    district_votes: Sequence[Sequence[Real]],
    district_seats: Sequence[int],
    method: str = "dhondt",
    thresholds: Sequence[Real] | Real = 0,
    scope: str = "national",
    national_base: Real | None = None,
    district_bases: Sequence[Real] | None = None,
    minority: Sequence[bool] | None = None,
    minority_exempt: bool = False,
    minority_coefficient: Real = 1,
) -> list[list[int]]:
    """Seats of every list in every district (districts x lists), each district allocated on its
    own votes with its own seats.

    * ``scope = "national"``: a list qualifies on its national votes (the districts' sum) against
      ``national_base`` (default: the sum of every vote); the lists that take part nationally
      (qualified, or exempt minority lists) take part in each district where they have votes, and a
      minority list below the threshold nationally has its votes multiplied by the coefficient in
      every district. A district where no list qualified nationally has votes allocates among
      every list with votes there (as a nation where nobody qualifies does).
    * ``scope = "district"``: each district is an election of its own (``allocate_reference``),
      with its base (``district_bases``, default its votes' sum); ``thresholds`` may then be one
      row per district.
    """
    rows = [[Fraction(x) for x in row] for row in district_votes]
    n = len(rows[0]) if rows else 0
    minority = list(minority) if minority is not None else [False] * n
    if scope == "district":
        out = []
        for d, row in enumerate(rows):
            t = thresholds[d] if (not isinstance(thresholds, Real)
                                  and len(thresholds) == len(rows)
                                  and not isinstance(thresholds[d], Real)) else thresholds
            base = None if district_bases is None else district_bases[d]
            out.append(allocate_reference(row, district_seats[d], method, t, base, minority,
                                          minority_exempt, minority_coefficient))
        return out
    if isinstance(thresholds, Real):
        thresholds = [thresholds] * n
    national = [sum(row[i] for row in rows) for i in range(n)]
    base = sum(national) if national_base is None else Fraction(national_base)
    qualified, _ = eligibility(national, thresholds, base, minority, minority_exempt)
    coef = Fraction(minority_coefficient)
    out = []
    for d, row in enumerate(rows):
        here = [qualified[i] and row[i] > 0 for i in range(n)]
        if any(here):
            takes_part = [here[i] or (minority_exempt and minority[i] and row[i] > 0
                                      and not qualified[i]) for i in range(n)]
        else:
            takes_part = [x > 0 for x in row]
        weight = [row[i] * coef if minority[i] and not qualified[i] else row[i] for i in range(n)]
        out.append(allocate_among(row, weight, takes_part, district_seats[d], method))
    return out
