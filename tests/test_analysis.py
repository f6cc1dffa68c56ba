"""The analysis of the simulated parliaments: power indices equal a brute-force reference and a
hand-worked example, and every tally equals what plain Python computes from the same runs' draws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.analysis import MARGIN_STEP, POWER_THIN, POWER_UNIT, power_indices, power_reference
from simulator.config import load_config
from simulator.engine import Engine, simulate
from simulator.results import result_from_tally

from .conftest import BELGRADE


def _power(weights, quota):
    m = len(weights)
    b, s, p = np.empty(m), np.empty(m), np.empty(m, np.bool_)
    power_indices(np.array(weights, float), quota, b, s, p, np.empty((2, 4)))
    return b, s, p


def test_power_indices_of_a_hand_worked_game():
    """[51; 50, 49, 1]: A is a swing in {A,B}, {A,C}, {A,B,C}, B and C once each: Banzhaf 3/5,
    1/5, 1/5; A brings the majority in 4 of the 6 orders, B and C in one each; every player is
    in a minimal winning coalition ({A,B}, {A,C})."""
    b, s, p = _power([50, 49, 1], 51)
    np.testing.assert_allclose(b, [0.6, 0.2, 0.2])
    np.testing.assert_allclose(s, [4 / 6, 1 / 6, 1 / 6])
    assert p.all()
    b, s, p = _power([49, 49, 2], 51)  # symmetric: every pair wins
    np.testing.assert_allclose(b, [1 / 3] * 3) and np.testing.assert_allclose(s, [1 / 3] * 3)
    b, s, p = _power([30, 30, 1], 51)  # the small one is a dummy
    np.testing.assert_allclose(b, [0.5, 0.5, 0.0]) and np.testing.assert_allclose(s, [0.5, 0.5, 0.0])
    assert list(p) == [True, True, False]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=9), st.floats(0.01, 1.0))
def test_power_indices_equal_the_brute_force_reference(weights, fraction):
    quota = max(1, int(sum(weights) * fraction))
    b, s, p = _power(weights, quota)
    rb, rs, rp = power_reference(weights, quota)
    np.testing.assert_allclose(b, rb, atol=1e-12)
    np.testing.assert_allclose(s, rs, atol=1e-12)
    assert list(p) == rp


@pytest.fixture(scope="module")
def runs():
    e = load_config(BELGRADE)
    engine = Engine(e, chunk_size=2000, analysis=True)
    tally, votes, seats = engine.run_chunks(6, 0, np.array([2000, 1500]), record=True)
    v = np.concatenate([votes[0, :2000], votes[1, :1500]])
    s = np.concatenate([seats[0, :2000], seats[1, :1500]])
    thinned = np.concatenate([np.arange(0, 2000, POWER_THIN), 2000 + np.arange(0, 1500, POWER_THIN)])
    return e, engine, tally, v, s, thinned


def test_places_and_first_by_votes_equal_plain_python(runs):
    e, engine, tally, v, s, _ = runs
    n = len(e.parties)
    rank = np.zeros((n, n), np.int64)
    for vr, sr in zip(v, s):
        order = sorted(range(n), key=lambda i: (-sr[i], -vr[i], i))
        for place, i in enumerate(order):
            rank[i, place] += 1
    np.testing.assert_array_equal(tally.rank, rank)
    np.testing.assert_array_equal(tally.first_by_votes, np.bincount(v.argmax(axis=1), minlength=n))
    result = result_from_tally(e, tally, 6, analysis=True)
    for p in result.parties.values():  # each list has one place a run, each place one list
        assert sum(p.p_rank) == pytest.approx(1.0)
    assert np.all(tally.rank.sum(axis=0) == len(v))


def test_power_sums_equal_the_reference_on_the_same_runs(runs):
    e, engine, tally, v, s, thinned = runs
    n = len(e.parties)
    majority = e.rules.majority
    banzhaf, shapley, pivotal = np.zeros(n), np.zeros(n), np.zeros(n)
    for r in thinned:
        holders = [i for i in range(n) if s[r, i] > 0]
        b, sh, p = power_reference([int(s[r, i]) for i in holders], majority)
        for k, i in enumerate(holders):
            banzhaf[i] += b[k]
            shapley[i] += sh[k]
            pivotal[i] += p[k]
    assert tally.power_runs[0] == len(thinned)
    np.testing.assert_allclose(tally.banzhaf * POWER_UNIT, banzhaf, atol=len(thinned) * POWER_UNIT)
    np.testing.assert_allclose(tally.shapley * POWER_UNIT, shapley, atol=len(thinned) * POWER_UNIT)
    np.testing.assert_array_equal(tally.pivotal, pivotal)


def test_votes_against_seats_and_the_last_seat_equal_plain_python(runs):
    e, engine, tally, v, s, _ = runs
    kr = engine.rules
    n = len(e.parties)
    base = engine.base
    qualified = (v > 0) & (v * 100 >= kr.thresholds * base)
    part = qualified | (kr.exempt & kr.minority & (v > 0))
    factor = np.where(kr.minority & ~qualified, kr.cnum, kr.cden)
    w = np.where(part, v * factor, 0.0)
    taking = np.where(part, v, 0.0).sum(axis=1)
    votes_major = np.where(part, v, 0.0) * 2 > taking[:, None]
    seats_major = s >= e.rules.majority
    np.testing.assert_array_equal(tally.vote_not_seat[:n], (votes_major & ~seats_major).sum(axis=0))
    np.testing.assert_array_equal(tally.seat_not_vote[:n], (seats_major & ~votes_major).sum(axis=0))
    won, lost, margins = np.zeros(n, int), np.zeros(n, int), []
    for r in range(len(v)):  # D'Hondt: the smallest quotient that won, the largest that did not
        held = [(w[r, i] / s[r, i], i) for i in range(n) if w[r, i] > 0 and s[r, i] > 0]
        nxt = [(w[r, i] / (s[r, i] + 1), i) for i in range(n) if w[r, i] > 0]
        q_win, i = min(held)
        q_next, j = max(nxt)
        won[i] += 1
        lost[j] += 1
        margins.append((q_win * (s[r, j] + 1) - w[r, j]) / (w[r, j] / v[r, j]) * 100)
    np.testing.assert_array_equal(tally.last_won, won)
    np.testing.assert_array_equal(tally.last_lost, lost)
    bins = np.minimum((np.maximum(margins, 0) / MARGIN_STEP).astype(int), len(tally.margin_hist) - 1)
    assert np.abs(np.cumsum(np.bincount(bins, minlength=len(tally.margin_hist)))
                  - np.cumsum(tally.margin_hist)).max() <= 2  # rounding at bin edges


def test_analysis_is_off_by_default_and_in_the_json_when_on():
    e = load_config(BELGRADE)
    plain = simulate(e, runs=3000, seed=2).to_json()
    assert "banzhaf" not in plain["parties"]["bt"] and "last_seat" not in plain
    doc = simulate(e, runs=3000, seed=2, analysis=True).to_json()
    bt = doc["parties"]["bt"]
    for key in ("p_rank", "p_first_by_votes", "banzhaf", "shapley_shubik", "p_pivotal",
                "p_vote_majority_without_seat_majority", "p_seat_majority_without_vote_majority"):
        assert key in bt
    assert "p_vote_majority_without_seat_majority" in doc["coalitions"]["Opposition"]
    assert set(doc["last_seat"]) >= {"margin_points_p50", "won", "lost"}
    assert sum(p["banzhaf"] for p in doc["parties"].values()) == pytest.approx(1.0, abs=1e-6)
    # and the analysis changes no other number
    for pid in plain["parties"]:
        assert plain["parties"][pid]["seat_probabilities"] == doc["parties"][pid]["seat_probabilities"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=9), st.floats(0.01, 1.0))
def test_counting_equals_the_brute_force_reference(weights, fraction):
    """The counting method (m^2 x quota) gives the enumeration's indices and pivots, exactly."""
    from simulator.analysis import power_counting

    quota = max(1, int(sum(weights) * fraction))
    if max(weights) >= quota:  # a dictator is settled before either method runs
        quota = max(weights) + 1
    m = len(weights)
    b, s, p = np.empty(m), np.empty(m), np.empty(m, np.bool_)
    power_counting(np.array(weights, float), quota, b, s, p, np.empty((1, 1)))
    rb, rs, rp = power_reference(weights, quota)
    np.testing.assert_allclose(b, rb, atol=1e-12)
    np.testing.assert_allclose(s, rs, atol=1e-12)
    assert list(p) == rp


def test_counting_and_enumeration_agree_on_many_seat_holders():
    """16 and 24 seat holders of a 150-seat parliament: too many for the brute-force reference,
    so the two exact methods check each other (enumeration is what the engine used before)."""
    from simulator.analysis import power_counting

    rng = np.random.default_rng(5)
    for m in (16, 24):
        w = (rng.multinomial(150 - m, np.ones(m) / m) + 1).astype(float)
        b1, s1, p1 = np.empty(m), np.empty(m), np.empty(m, np.bool_)
        b2, s2, p2 = np.empty(m), np.empty(m), np.empty(m, np.bool_)
        power_indices(w, 76, b1, s1, p1, np.empty((2, 1 << m)))
        power_counting(w, 76, b2, s2, p2, np.empty((1, 1)))
        np.testing.assert_allclose(b1, b2, atol=1e-12)
        np.testing.assert_allclose(s1, s2, atol=1e-12)
        assert list(p1) == list(p2)
