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
