"""Seat allocation: the kernel equals the plain-Python reference exactly, and both are right on
textbook examples and on the official Belgrade 2024 result."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simulator.allocation import allocate_batch, allocate_result, kernel_rules
from simulator.allocation.baselines import numpy_batch, seat_by_seat_batch
from simulator.allocation.kernels import METHOD_CODES
from simulator.allocation.reference import allocate_reference, divisor
from simulator.config import Party, Rules, load_config

from .conftest import BELGRADE

METHODS = list(METHOD_CODES)
DIVISOR_METHODS = ["dhondt", "sainte-lague", "modified-sainte-lague"]


def kernel(votes, seats, method="dhondt", thresholds=0.0, base=None, minority=None, exempt=False,
           coefficient=1.0):
    """Run the batch kernel on one election given the same arguments as the reference."""
    n = len(votes)
    minority = minority or [False] * n
    thr = thresholds if isinstance(thresholds, list) else [thresholds] * n
    parties = [Party(id=f"p{i}", name=f"p{i}", minority=minority[i], threshold=thr[i]) for i in range(n)]
    rules = Rules(seats=seats, majority=1, method=method, minority_exempt=exempt,
                  minority_coefficient=coefficient)
    v = np.array([votes], np.float64)
    bases = None if base is None else np.array([float(base)])
    return allocate_batch(v, kernel_rules(rules, parties), bases=bases)[0].tolist()


# --- textbook examples ----------------------------------------------------------------------------
# The 8-seat example with 100,000 / 80,000 / 30,000 / 20,000 votes used in many textbook and
# encyclopaedia explanations of the methods (e.g. the English Wikipedia articles on D'Hondt and
# Sainte-Lague): D'Hondt gives 4/3/1/0, Sainte-Lague 3/3/1/1.
TEXTBOOK = [100_000, 80_000, 30_000, 20_000]


@pytest.mark.parametrize("impl", [allocate_reference, kernel])
def test_textbook_dhondt(impl):
    assert impl(TEXTBOOK, 8, "dhondt") == [4, 3, 1, 0]


@pytest.mark.parametrize("impl", [allocate_reference, kernel])
def test_textbook_sainte_lague(impl):
    assert impl(TEXTBOOK, 8, "sainte-lague") == [3, 3, 1, 1]


@pytest.mark.parametrize("impl", [allocate_reference, kernel])
def test_hare_niemeyer_by_hand(impl):
    # 10 seats, quotas 4.5 / 3.0 / 2.5 -> floors 4 / 3 / 2, one seat left; lists 0 and 2 tie on
    # remainder .5 and list 0 has more votes.
    assert impl([45, 30, 25], 10, "hare-niemeyer") == [5, 3, 2]
    # quotas 4.7 / 3.6 / 1.7 -> floors 4 / 3 / 1, two seats left to the remainders .7 and .7
    assert impl([47, 36, 17], 10, "hare-niemeyer") == [5, 3, 2]


@pytest.mark.parametrize("impl", [allocate_reference, kernel])
def test_modified_sainte_lague_first_divisor_is_1_4(impl):
    # Votes 15 and 7, 2 seats. Sainte-Lague: 15, then 7/1 = 7 beats 15/3 = 5 -> 1/1.
    # Modified: 15/1.4 first, then 7/1.4 = 5 ties 15/3 = 5, and the tie goes to more votes -> 2/0.
    assert impl([15, 7], 2, "modified-sainte-lague") == [2, 0]
    assert impl([15, 7], 2, "sainte-lague") == [1, 1]


@pytest.mark.parametrize("impl", [allocate_reference, kernel])
def test_tie_goes_to_more_votes_then_first_listed(impl):
    # D'Hondt, 3 seats, 60/30/30: quotients 60, 30, 30, 20 -> third seat ties 30 vs 30 vs 30 (60/2)
    # -> the list with the most votes (list 0) wins it.
    assert impl([60, 30, 30], 3, "dhondt") == [2, 1, 0]
    # equal votes: the earlier list wins the tie.
    assert impl([10, 10, 10], 2, "dhondt") == [1, 1, 0]
    assert impl([5, 10, 10], 1, "dhondt") == [0, 1, 0]


@pytest.mark.parametrize("impl", [allocate_reference, kernel])
def test_minority_list_below_threshold_gets_coefficient(impl):
    # 5 % threshold; list 2 has 4 % (below) and is a minority list: exempt, and 4 x 1.35 = 5.4
    # beats list 1's 10 / 2 = 5 for the last of 3 seats... list 0 85 takes the rest.
    votes = [86, 10, 4]
    minority = [False, False, True]
    without = impl(votes, 20, "dhondt", 5.0, None, minority, True, 1.0)
    with_coef = impl(votes, 20, "dhondt", 5.0, None, minority, True, 1.35)
    assert without[2] < with_coef[2]
    assert sum(with_coef) == 20


@pytest.mark.parametrize("impl", [allocate_reference, kernel])
def test_minority_list_at_threshold_is_like_any_other(impl):
    votes = [80, 15, 5]
    minority = [False, False, True]
    assert impl(votes, 20, "dhondt", 5.0, None, minority, True, 1.35) == impl(votes, 20, "dhondt", 5.0)


@pytest.mark.parametrize("impl", [allocate_reference, kernel])
def test_nobody_reaches_threshold_everyone_takes_part(impl):
    assert impl([30, 30, 40], 10, "dhondt", 50.0) == impl([30, 30, 40], 10, "dhondt")


# --- the official Belgrade 2024 result ------------------------------------------------------------
OFFICIAL = {"bt": 64, "kp": 21, "wcb": 14, "mi": 10, "ru": 1}


def test_belgrade_2024_official_seats():
    rows = allocate_result(load_config(BELGRADE))
    seats = {r.id: r.seats for r in rows}
    assert seats == {**{k: 0 for k in seats}, **OFFICIAL}


def test_belgrade_reference_agrees_with_official_seats():
    e = load_config(BELGRADE)
    ids = e.party_ids
    seats = allocate_reference(
        [e.result.votes[p] for p in ids], 110, "dhondt", 3.0, e.result.votes_cast,
        [p.minority for p in e.parties], True, Fraction(27, 20),
    )
    assert dict(zip(ids, seats)) == {**{k: 0 for k in ids}, **OFFICIAL}


def test_belgrade_lists_beating_last_quotient_lose_to_threshold():
    """Two non-minority lists have more votes than the last seat's quotient but not 3 %: 0 seats."""
    e = load_config(BELGRADE)
    votes = [e.result.votes[p] for p in e.party_ids]
    last_quotient = Fraction(e.result.votes["mi"]) / 10  # 59,805 / 10: the 110th seat
    assert last_quotient == Fraction(59805, 10)
    beaters = [p for p in ("kans", "mgn") if e.result.votes[p] > last_quotient]
    assert beaters == ["kans", "mgn"]
    no_threshold = allocate_reference(votes, 110, "dhondt")
    assert all(no_threshold[e.party_ids.index(p)] >= 1 for p in beaters)
    official = {r.id: r.seats for r in allocate_result(e)}
    assert all(official[p] == 0 for p in beaters)


def test_cast_base_counts_invalid_ballots():
    """With a threshold on ballots cast, a list at 3 % of valid votes but below 3 % of cast fails."""
    votes = [600, 370, 30]  # 30 of 1,000 valid = 3 %; of 1,050 cast = 2.86 %
    valid_base = allocate_reference(votes, 100, "dhondt", 3.0)
    cast_base = allocate_reference(votes, 100, "dhondt", 3.0, 1050)
    assert valid_base[2] > 0 and cast_base[2] == 0
    assert kernel(votes, 100, "dhondt", 3.0, 1050) == cast_base
    assert kernel(votes, 100, "dhondt", 3.0) == valid_base


# --- property tests: kernel == reference -----------------------------------------------------------
@st.composite
def elections(draw, max_lists=30, max_seats=200):
    n = draw(st.integers(1, max_lists))
    pool = draw(st.lists(st.integers(0, 2000), min_size=1, max_size=4))  # repeated values -> ties
    votes = draw(
        st.lists(st.one_of(st.integers(0, 1_000_000), st.sampled_from(pool)), min_size=n, max_size=n)
    )
    assume(sum(votes) > 0)
    seats = draw(st.integers(1, max_seats))
    method = draw(st.sampled_from(METHODS))
    thresholds = draw(
        st.one_of(
            st.sampled_from([0.0, 0.5, 3.0, 5.0, 12.5]),
            st.lists(st.sampled_from([0.0, 3.0, 4.0, 8.0, 25.0]), min_size=n, max_size=n),
        )
    )
    minority = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    exempt = draw(st.booleans())
    coefficient = draw(st.sampled_from([1.0, 1.35, 1.5, 2.0]))
    base = None
    if draw(st.booleans()):
        base = sum(votes) + draw(st.integers(0, 50_000))  # ballots cast incl. invalid
    return votes, seats, method, thresholds, base, minority, exempt, coefficient


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elections())
def test_kernel_equals_reference(case):
    votes, seats, method, thresholds, base, minority, exempt, coefficient = case
    expected = allocate_reference(votes, seats, method, thresholds, base, minority, exempt,
                                  Fraction(repr(coefficient)))
    assert kernel(votes, seats, method, thresholds, base, minority, exempt, coefficient) == expected
    assert sum(expected) == seats


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elections(max_lists=200, max_seats=1000))
def test_kernel_equals_reference_large(case):
    votes, seats, method, thresholds, base, minority, exempt, coefficient = case
    expected = allocate_reference(votes, seats, method, thresholds, base, minority, exempt,
                                  Fraction(repr(coefficient)))
    assert kernel(votes, seats, method, thresholds, base, minority, exempt, coefficient) == expected


def _tie_at_stake(votes, seats, method):
    """True when the last seat given and the best seat not given have equal quotients."""
    if method == "hare-niemeyer":
        total = sum(votes)
        rem = sorted((Fraction(v * seats, total) % 1 for v in votes), reverse=True)
        return len(set(rem)) < len(rem)
    won = allocate_reference(votes, seats, method)
    held = [Fraction(v) / divisor(method, s - 1) for v, s in zip(votes, won) if s > 0]
    unheld = [Fraction(v) / divisor(method, s) for v, s in zip(votes, won)]
    return min(held) == max(unheld)


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.integers(1, 10_000_000), min_size=1, max_size=40),
    st.integers(1, 600),
    st.sampled_from(["dhondt", "sainte-lague", "modified-sainte-lague", "hare-niemeyer"]),
)
def test_kernel_equals_apportionment_package(votes, seats, method):
    """An independent implementation (PyPI `apportionment`) agrees wherever no tie is at stake."""
    from apportionment.methods import compute

    assume(not _tie_at_stake(votes, seats, method))
    name = {"dhondt": "dhondt", "sainte-lague": "saintelague",
            "modified-sainte-lague": "modified_saintelague", "hare-niemeyer": "largest_remainder"}[method]
    assert kernel(votes, seats, method) == list(compute(name, votes, seats, verbose=False))


@settings(max_examples=400, deadline=None)
@given(elections(max_lists=25, max_seats=300))
def test_divisor_methods_are_house_monotone(case):
    votes, seats, method, thresholds, base, minority, exempt, coefficient = case
    assume(method in DIVISOR_METHODS)
    now = kernel(votes, seats, method, thresholds, base, minority, exempt, coefficient)
    more = kernel(votes, seats + 1, method, thresholds, base, minority, exempt, coefficient)
    assert sum(more) == seats + 1
    assert all(b >= a for a, b in zip(now, more))


@pytest.mark.parametrize("method", METHODS)
def test_batch_of_float_shares_matches_baselines(method):
    """Random float shares (as in simulations): kernel == seat-by-seat loop (== numpy loop)."""
    rng = np.random.default_rng(7)
    shares = rng.dirichlet(np.full(14, 1.0), size=20_000)
    parties = [Party(id=f"p{i}", name=f"p{i}", minority=i in (4, 11)) for i in range(14)]
    rules = Rules(seats=110, majority=56, method=method, threshold=3.0, minority_exempt=True,
                  minority_coefficient=1.35)
    kr = kernel_rules(rules, parties)
    bases = shares.sum(axis=1) / 0.975
    fast = allocate_batch(shares, kr, bases=bases)
    slow = np.empty_like(fast)
    seat_by_seat_batch(shares, bases, *kr.args(), slow)
    np.testing.assert_array_equal(fast, slow)
    assert (fast.sum(axis=1) == 110).all()
    if method != "hare-niemeyer":
        np.testing.assert_array_equal(fast, numpy_batch(shares, bases, *kr.args()))


def test_allocate_batch_rejects_bad_votes():
    from simulator.errors import InputError

    parties = [Party(id="a", name="a"), Party(id="b", name="b")]
    kr = kernel_rules(Rules(seats=3, majority=2), parties)
    with pytest.raises(InputError):
        allocate_batch(np.array([[1.0, np.nan]]), kr)
    with pytest.raises(InputError):
        allocate_batch(np.array([[1.0, -1.0]]), kr)
    with pytest.raises(InputError):
        allocate_batch(np.array([[1.0, 1.0, 1.0]]), kr)


@pytest.mark.parametrize("method", DIVISOR_METHODS)
@pytest.mark.parametrize("seats", [7, 41])
def test_batch_of_tied_integer_votes_matches_reference(method, seats):
    """Many rows of small integer votes in one batch, so that blocks of rows mix exact ties,
    corrections of one, two and more seats, and rows nobody qualifies in: every row equals the
    reference (the vectorised block path hands doubtful rows to the exact row kernel)."""
    rng = np.random.default_rng(seats)
    votes = rng.integers(0, 25, size=(1_500, 8)).astype(np.float64)
    votes[::50] = 0.0  # whole rows without votes
    votes[1::50, :] = 3.0  # every list tied
    minority = [False, False, False, True, False, False, True, False]
    parties = [Party(id=f"p{i}", name=f"p{i}", minority=minority[i]) for i in range(8)]
    rules = Rules(seats=seats, majority=1, method=method, threshold=12.0, minority_exempt=True,
                  minority_coefficient=1.35)
    fast = allocate_batch(votes, kernel_rules(rules, parties))
    for row, got in zip(votes, fast):
        want = allocate_reference(row.tolist(), seats, method, [12.0] * 8, float(row.sum()), minority,
                                  True, Fraction(27, 20))
        assert got.tolist() == list(want), row


def _hard_float32_rows(rng, n, rows):
    """Float shares built to sit closer to a decision than float32 can see (the block kernel
    computes in float32 and must hand these to the exact row kernel): lists a fraction of a
    float32 ulp from the 3 % threshold, pairs of lists whose votes differ in the 26th bit,
    rows scaled to the edges of float32's range, and ordinary rows between them. Bases vary
    independently of the votes, so that float32's roundings of the two sides do not cancel."""
    v = rng.dirichlet(np.full(n, 0.8), size=rows)
    kind = np.arange(rows) % 6
    k = rng.choice([-3, -2, -1, 1, 2, 3], size=rows)
    scaled = kind == 3  # the whole row scaled far down or up (total outside float32's safe range)
    v[scaled] *= np.where(k[scaled] > 0, 1e35, 1e-35)[:, None]
    tiny = kind == 4  # a few lists with shares float32 cannot hold (they underflow to 0)
    v[tiny, -3:] = 1e-44
    base = v.sum(axis=1) * rng.uniform(1.0, 2.0, size=rows)  # ballots cast, invalid included
    # list 0 within 1 to 3 times 2**-26 (relative) of its threshold: float32 cannot tell the side
    near = kind == 1
    v[near, 0] = 0.03 * base[near] * (1.0 + k[near] * 2.0 ** -26)
    twins = kind == 2  # list 1 equal to list 0 but for a 2**-26 relative nudge, either way
    v[twins, 1] = v[twins, 0] * (1.0 + np.sign(k[twins]) * 2.0 ** -26)
    return v, base


@pytest.mark.parametrize("method", DIVISOR_METHODS)
@pytest.mark.parametrize("n", [3, 4, 14, 40])
def test_block_kernel_hands_float32_doubts_to_the_exact_kernel(method, n):
    """Rows built to fool float32 (see _hard_float32_rows), in a batch whose size is not a multiple
    of 4 (so tiled and untiled rows mix): every row equals the seat-by-seat loop, which compares
    quotients exactly, and a sample equals the reference."""
    rng = np.random.default_rng(n)
    votes, bases = _hard_float32_rows(rng, n, 3_001)
    minority = [i % 5 == 4 for i in range(n)]
    parties = [Party(id=f"p{i}", name=f"p{i}", minority=minority[i]) for i in range(n)]
    rules = Rules(seats=57, majority=1, method=method, threshold=3.0, minority_exempt=True,
                  minority_coefficient=1.35)
    kr = kernel_rules(rules, parties)
    fast = allocate_batch(votes, kr, bases=bases)
    slow = np.empty_like(fast)
    seat_by_seat_batch(votes, bases, *kr.args(), slow)
    np.testing.assert_array_equal(fast, slow)
    for r in range(0, 3_001, 61):
        want = allocate_reference(votes[r].tolist(), 57, method, 3.0, float(bases[r]), minority,
                                  True, Fraction(27, 20))
        assert fast[r].tolist() == want, r


def _on_the_line(rng, rows):
    """(share of list 0, base) pairs where ``share * 100`` and ``3 * base`` round to the same
    float64 but differ exactly: a rounded threshold test cannot tell them apart. Half of them lie
    above the line, half below."""
    found = {True: [], False: []}
    while min(len(v) for v in found.values()) < rows // 2:
        base = rng.uniform(0.5, 2.0)
        for v in (0.03 * base, np.nextafter(0.03 * base, 0), np.nextafter(0.03 * base, 1)):
            if v * 100.0 == 3.0 * base and Fraction(v) * 100 != 3 * Fraction(base):
                side = Fraction(v) * 100 > 3 * Fraction(base)
                if len(found[side]) < rows // 2:
                    found[side].append((v, base))
    return found[True] + found[False]


@pytest.mark.parametrize("method", DIVISOR_METHODS)
def test_threshold_test_is_exact_within_an_ulp(method):
    """A list whose share sits within a float64 ulp of the 3 % threshold qualifies exactly when the
    reference (exact fractions) says so, in the batch kernel, the seat-by-seat loop and numpy."""
    rng = np.random.default_rng(3)
    cases = _on_the_line(rng, 40)
    votes = np.empty((len(cases), 6))
    bases = np.empty(len(cases))
    for r, (v, base) in enumerate(cases):
        rest = rng.dirichlet(np.ones(5)) * (base * 0.9 - v)
        votes[r] = [v, *rest]
        bases[r] = base
    parties = [Party(id=f"p{i}", name=f"p{i}") for i in range(6)]
    kr = kernel_rules(Rules(seats=60, majority=1, method=method, threshold=3.0), parties)
    fast = allocate_batch(votes, kr, bases=bases)
    slow = np.empty_like(fast)
    seat_by_seat_batch(votes, bases, *kr.args(), slow)
    vector = numpy_batch(votes, bases, *kr.args())
    for r in range(len(cases)):
        want = allocate_reference(votes[r].tolist(), 60, method, 3.0, float(bases[r]))
        assert fast[r].tolist() == want and slow[r].tolist() == want, r
        assert vector[r].tolist() == want, r
    assert any(w[0] > 0 for w in (fast[r] for r in range(20)))  # the lists above the line won seats
