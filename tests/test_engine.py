"""The forecast engine: statistically right, reproducible, and consistent with its own draws.

Statistical tests use fixed seeds and tolerances of 4 standard errors.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numba as nb
import numpy as np
import pytest

from simulator.allocation.reference import allocate_reference
from simulator.config import load_config
from simulator.engine import Engine, simulate
from simulator.errors import ConfigError, InputError
from simulator.streams import (
    chunk_states, exponential, fill_gamma, gamma, gamma_constants, normal, stream_state,
)
from simulator.votes.model import build_vote_model, expected_shares

SMALL = """
[election]
seats = 15
majority = 8
threshold = 5.0
[[party]]
id = "a"
[[party]]
id = "b"
[[party]]
id = "c"
[[party]]
id = "d"
minority = true
[[poll]]
sample_size = 300
[poll.shares]
a = 45
b = 30
c = 20
d = 5
[model]
polling_error = 0  # these tests check the sampling model (the Dirichlet draws) itself

[simulation]
runs = 20000
seed = 11
chunk_size = 1000
[[coalition]]
name = "bc"
members = ["b", "c"]
"""


@nb.njit
def _draws(kind, words, n, shape=1.0):
    """n draws from one stream: kind 0 gamma(shape), 1 normal, 2 exponential, 3 gamma(shape) by
    blocks of 100 with fill_gamma (the engine's way)."""
    st = stream_state(words)
    out = np.empty(n)
    if kind == 3:
        d, c = gamma_constants(shape)
        pending = np.empty(100, np.int64)
        keep_a = np.empty(100)
        keep_b = np.empty(100)
        for j in range(0, n, 100):
            st = fill_gamma(st, shape, d, c, out[j:], min(100, n - j), pending, keep_a, keep_b)
        return out
    for i in range(n):
        if kind == 0:
            out[i], st = gamma(st, shape)
        elif kind == 1:
            out[i], st = normal(st)
        else:
            out[i], st = exponential(st)
    return out


def _check_cdf(x, cdf, points):
    """The empirical CDF at each point is within 4 standard errors of the exact one."""
    n = x.size
    for p in points:
        want = cdf(p)
        got = np.count_nonzero(x <= p) / n
        assert abs(got - want) < 4 * math.sqrt(want * (1 - want) / n) + 1e-9, (p, got, want)


def test_ziggurat_normal_has_the_normal_distribution():
    n = 2_000_000
    x = _draws(1, chunk_states(8, 0, 1)[0].copy(), n)
    # points in every kind of ziggurat region: the rectangles, the wedges, the tail beyond R = 3.44
    points = [-4.0, -3.5, -3.0, -2.0, -1.0, -0.5, -0.1, 0.0, 0.3, 0.9, 1.5, 2.5, 3.3, 3.6, 4.2]
    _check_cdf(x, lambda p: 0.5 * (1 + math.erf(p / math.sqrt(2))), points)
    assert abs(x.mean()) < 4 / math.sqrt(n)
    assert abs(x.var() - 1) < 4 * math.sqrt(2 / n)
    assert abs(np.mean(x**4) - 3) < 4 * math.sqrt(96 / n)  # kurtosis: Var(x^4) = 105 - 9


@pytest.mark.parametrize("kind", [2, 3], ids=["scalar", "fill"])
def test_ziggurat_exponential_has_the_exponential_distribution(kind):
    n = 2_000_000
    x = _draws(kind, chunk_states(9, 0, 1)[0].copy(), n)
    assert x.min() > 0
    points = [0.01, 0.1, 0.5, 1.0, 2.0, 4.0, 7.0, 7.5, 8.0, 9.0]  # the tail starts at R = 7.70
    _check_cdf(x, lambda p: 1 - math.exp(-p), points)
    assert abs(x.mean() - 1) < 4 / math.sqrt(n)
    assert abs(x.var() - 1) < 4 * math.sqrt(8 / n)  # Var of (x-1)^2 for Exp(1) is 9 - 1


@pytest.mark.parametrize("kind", [0, 3], ids=["scalar", "fill"])
def test_gamma_sampler_has_the_gamma_distribution(kind):
    """Gamma(3), whose CDF is 1 - exp(-x) (1 + x + x^2/2): points from the far left tail, where
    the normal's wedges and tail and the log test decide, to the far right."""
    n = 2_000_000
    x = _draws(kind, chunk_states(6, 0, 1)[0].copy(), n, 3.0)
    points = [0.05, 0.2, 0.5, 1.0, 1.7, 2.5, 3.0, 4.0, 6.0, 9.0, 13.0]
    _check_cdf(x, lambda p: 1 - math.exp(-p) * (1 + p + p * p / 2), points)


@pytest.mark.parametrize("kind", [0, 3], ids=["scalar", "fill"])
@pytest.mark.parametrize("shape", [0.3, 1.0, 2.5, 1500.0])
def test_gamma_sampler_mean_and_variance(shape, kind):
    n = 200_000
    x = _draws(kind, chunk_states(5, 0, 1)[0].copy(), n, shape)
    # Gamma(k): mean k, variance k; the sample variance's SE uses the 4th central moment 3k^2 + 6k.
    assert abs(x.mean() - shape) < 4 * np.sqrt(shape / n)
    assert abs(x.var() - shape) < 4 * np.sqrt((3 * shape**2 + 6 * shape - shape**2) / n)


def test_dirichlet_shares_have_right_means_and_variances(write_config):
    e = load_config(write_config(SMALL))
    pm = build_vote_model(e)
    alpha = pm.alpha[0]
    tally, votes, _ = Engine(e).run_chunks(3, 0, np.full(4, 5000), record=True)
    shares = votes.reshape(-1, 4)
    a0 = alpha.sum()
    mean = alpha / a0
    var = mean * (1 - mean) / (a0 + 1)
    n = shares.shape[0]
    assert np.all(np.abs(shares.mean(0) - mean) < 4 * np.sqrt(var / n))
    # variance of the sample variance ~ 2 var^2 / n for near-normal marginals (alpha large)
    assert np.all(np.abs(shares.var(0) - var) < 4 * np.sqrt(2 * var**2 / n) + 1e-12)


def test_p_majority_is_mean_of_majority_indicator_over_same_draws(write_config):
    e = load_config(write_config(SMALL))
    engine = Engine(e)
    tally, votes, seats = engine.run_chunks(7, 0, np.array([700, 500, 300]), record=True)
    rows = np.concatenate([seats[0, :700], seats[1, :500], seats[2, :300]])
    assert tally.runs == 1500
    np.testing.assert_array_equal(tally.majority, (rows >= 8).sum(0))
    for i in range(4):
        np.testing.assert_array_equal(tally.seat_counts[i], np.bincount(rows[:, i], minlength=16))
    np.testing.assert_array_equal(tally.coalition_majority, [((rows[:, 1] + rows[:, 2]) >= 8).sum()])
    # and each recorded run's seats are what the reference allocation gives for its draw
    vrows = np.concatenate([votes[0, :700], votes[1, :500], votes[2, :300]])
    for v, s in zip(vrows[:300], rows[:300]):
        assert list(s) == allocate_reference(v.tolist(), 15, "dhondt", 5.0, None,
                                             [False, False, False, True], False, Fraction(1))


def _numpy_reference(e, runs, seed):
    """Plain numpy + reference allocation: Generator.dirichlet over the pooled alpha."""
    alpha = build_vote_model(e).alpha[0]
    draws = np.random.default_rng(seed).dirichlet(alpha, size=runs)
    seats = np.array([allocate_reference(d.tolist(), 15, "dhondt", 5.0, None,
                                         [False, False, False, True], False, 1) for d in draws])
    return seats


def test_engine_agrees_with_plain_numpy_reference(write_config):
    e = load_config(write_config(SMALL))
    result = simulate(e, runs=40_000, seed=1)
    ref = _numpy_reference(e, 4000, 2)
    n_ref = ref.shape[0]
    for i, pid in enumerate(["a", "b", "c", "d"]):
        p_eng = result.parties[pid].p_majority
        p_ref = (ref[:, i] >= 8).mean()
        se = np.sqrt(p_eng * (1 - p_eng) / result.runs + max(p_ref * (1 - p_ref), 1e-4) / n_ref)
        assert abs(p_eng - p_ref) < 4 * se, pid
        m_eng = result.parties[pid].mean_seats
        m_ref = ref[:, i].mean()
        se_m = np.sqrt(ref[:, i].var() / n_ref + ref[:, i].var() / result.runs) + 1e-9
        assert abs(m_eng - m_ref) < 4 * se_m, pid
    # the reference itself must see something to compare: a's majority is uncertain here
    assert 0.05 < (ref[:, 0] >= 8).mean() < 0.95


def test_results_do_not_depend_on_thread_count(write_config):
    e = load_config(write_config(SMALL))
    one = simulate(e, runs=30_000, seed=99, threads=1)
    two = simulate(e, runs=30_000, seed=99, threads=2 if nb.config.NUMBA_NUM_THREADS >= 2 else 1)
    a, b = one.to_json(), two.to_json()
    a["settings"].pop("threads"), b["settings"].pop("threads")
    assert json.dumps(a) == json.dumps(b)


def test_same_seed_same_result_other_seed_differs(write_config):
    e = load_config(write_config(SMALL))
    r1 = simulate(e, runs=5000, seed=3).to_json()
    r2 = simulate(e, runs=5000, seed=3).to_json()
    r3 = simulate(e, runs=5000, seed=4).to_json()
    assert r1 == r2 and r1["parties"] != r3["parties"]


def test_tallies_merge_like_one_run(write_config):
    e = load_config(write_config(SMALL))
    engine = Engine(e)
    whole = engine.run_chunks(5, 0, np.array([1000, 1000, 1000]))
    parts = engine.run_chunks(5, 0, np.array([1000])) + engine.run_chunks(5, 1, np.array([1000, 1000]))
    assert whole.equals(parts)


def test_target_se_stops_early(write_config):
    e = load_config(write_config(SMALL))
    r = simulate(e, runs=2_000_000, seed=1, target_se=0.01, chunk_size=1000)
    assert r.runs < 2_000_000 and r.max_standard_error() < 0.01


def test_others_whole_wins_no_seats_split_can(write_config):
    text = SMALL.replace("d = 5\n", "others = 5\n")
    whole = load_config(write_config(text.replace("polling_error = 0", 'polling_error = 0\nothers = "whole"'), "w.toml"))
    # unnamed_share = 100: d's expectation exceeds the bucket, so d gets all of it
    split = load_config(write_config(text.replace("polling_error = 0", "polling_error = 0\nunnamed_share = 100"), "s.toml"))
    rw = simulate(whole, runs=20_000, seed=1)
    rs = simulate(split, runs=20_000, seed=1)
    assert rw.parties["d"].mean_seats == 0.0
    assert rs.parties["d"].mean_seats > 0.0  # d alone is "others" here and passes 5 % in some runs


@pytest.mark.parametrize("mixture", [False, True])
def test_tiny_dirichlet_shapes_give_finite_shares(write_config, mixture):
    """Shapes so small that the gammas underflow (a tiny "others" concentration; a poll of almost
    no weight with a tiny prior) once hung the engine on NaN shares. Now every run's shares are
    finite and sum to 1, and such a Dirichlet puts (almost) all its mass on one part, part k with
    probability alpha_k / sum(alpha)."""
    text = SMALL.replace("c = 20\nd = 5\n", "others = 25\n").replace(
        "polling_error = 0", "polling_error = 0\nothers_concentration = 0.0001\nunnamed_share = 100")
    e = load_config(write_config(text, "o.toml"))
    _, votes, seats = Engine(e).run_chunks(4, 0, np.full(2, 3000), record=True)
    v = votes.reshape(-1, 4)
    assert np.isfinite(v).all() and np.allclose(v.sum(axis=1), 1.0)
    others = v[:, 2] + v[:, 3]
    assert np.mean(np.maximum(v[:, 2], v[:, 3]) >= 0.999 * others) > 0.99
    p_c = np.mean(v[:, 2] > v[:, 3])  # c and d have equal weights
    assert abs(p_c - 0.5) < 4 * np.sqrt(0.25 / v.shape[0])
    tiny = SMALL.replace("sample_size = 300", "sample_size = 0.001").replace(
        "polling_error = 0", "polling_error = 0\nprior = 0.0001\n"
        + ('pooling = "mixture"\n' if mixture else ""))
    e = load_config(write_config(tiny, "t.toml"))
    _, votes, seats = Engine(e).run_chunks(5, 0, np.full(2, 3000), record=True)
    v = votes.reshape(-1, 4)
    assert np.isfinite(v).all() and np.allclose(v.sum(axis=1), 1.0)
    alpha = build_vote_model(e).alpha[0]
    winner = v.argmax(axis=1)
    assert np.mean(v.max(axis=1) > 0.999) > 0.99
    for k in range(4):
        p = alpha[k] / alpha.sum()
        assert abs(np.mean(winner == k) - p) < 4 * np.sqrt(p * (1 - p) / v.shape[0]) + 1e-9


def test_mixture_is_wider_than_pooled_when_polls_disagree(write_config):
    text = SMALL + """
[[poll]]
sample_size = 300
[poll.shares]
a = 60
b = 20
c = 15
d = 5
"""
    pooled = load_config(write_config(text, "p.toml"))
    mixture = load_config(write_config(text.replace("polling_error = 0", 'polling_error = 0\npooling = "mixture"'), "m.toml"))
    def sd(r):
        p = np.array(r.parties["a"].seat_probabilities)
        k = np.arange(p.size)
        return np.sqrt((p * k**2).sum() - ((p * k).sum()) ** 2)
    assert sd(simulate(mixture, runs=20_000, seed=1)) > 1.3 * sd(simulate(pooled, runs=20_000, seed=1))


def test_cast_threshold_uses_invalid_share(write_config):
    # d polls 5.1 %: passes 5 % of valid votes, fails 5 % of ballots cast with 4 % invalid ballots.
    text = SMALL.replace("a = 45", "a = 44.9").replace("d = 5\n", "d = 5.1\n").replace("sample_size = 300", "sample_size = 1000000")
    valid = load_config(write_config(text, "v.toml"))
    cast = load_config(write_config(text.replace("threshold = 5.0", 'threshold = 5.0\nthreshold_base = "cast"').replace("polling_error = 0", "polling_error = 0\ninvalid_share = 4.0"), "c.toml"))
    assert simulate(valid, runs=4000, seed=1).parties["d"].p_threshold > 0.9
    assert simulate(cast, runs=4000, seed=1).parties["d"].p_threshold < 0.1


def test_expected_shares_follow_polls():
    e = load_config("configs/belgrade-2024.toml")
    shares = expected_shares(e)
    # the ten lists no poll names expect 1 % each, a little less than the polls' others (10.8 %
    # pooled): the rest is unassigned
    assert 99.0 < sum(shares.values()) <= 100.0
    assert 48 < shares["bt"] < 50 and shares["ru"] == shares["urs"]


@pytest.mark.parametrize(
    "patch, key",
    [
        ("a = 45", "poll 1.shares.zz"),
        ("sample_size = 300", "poll 1.sample_size"),
        ("b = 30", "poll 1.shares"),
        ("c = 20", "poll 1.shares.c"),
    ],
)
def test_bad_polls_are_config_errors(write_config, patch, key):
    replacement = {
        "a = 45": "a = 45\nzz = 1",
        "sample_size = 300": "sample_size = -5",
        "b = 30": "b = 40",  # sums to 110
        "c = 20": "c = -20",
    }[patch]
    with pytest.raises(ConfigError) as info:
        load_config(write_config(SMALL.replace(patch, replacement)))
    assert key in str(info.value)


def test_shares_within_half_a_point_are_normalised(write_config):
    e = load_config(write_config(SMALL.replace("a = 45", "a = 45.4")))
    assert abs(sum(e.polls[0].shares.values()) - 100) < 1e-9


def test_simulation_without_polls_is_an_input_error(write_config):
    e = load_config(write_config('[election]\nseats = 3\n[[party]]\nid = "a"\n'))
    with pytest.raises(InputError, match="poll"):
        simulate(e, runs=10)
