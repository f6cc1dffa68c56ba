"""The vote model: pooling, the lists no poll names, house effects, the design effect and the
shared polling error, each checked against a hand computation or against data drawn from the model
itself with known parameters (fixed seeds; tolerances stated with each test)."""

from __future__ import annotations

import math
import textwrap

import numba as nb
import numpy as np
import pytest
from scipy import special

from simulator.calibration import Case, fit_error
from simulator.config import load_config, parse_config
from simulator.engine import Engine
from simulator.streams import chunk_states, exp_block, fill_gamma, gamma_constants, stream_state
from simulator.votes.draws import draw_shares, vote_scratch
from simulator.votes.error import ErrorParams, shock_scales
from simulator.votes.house import fit_poll_errors
from simulator.votes.model import build_vote_model, expected_shares

from .conftest import BELGRADE

TWO_POLLS = """
[election]
seats = 10
[[party]]
id = "a"
[[party]]
id = "b"
[[party]]
id = "c"
[[poll]]
firm = "X"
sample_size = 1000
[poll.shares]
a = 40
b = 40
c = 10
others = 10
[[poll]]
firm = "Y"
sample_size = 1000
[poll.shares]
a = 50
b = 30
others = 20
[model]
polling_error = 0
prior = 0.5
"""


def _election(text: str, **model):
    data = __import__("tomllib").loads(textwrap.dedent(text))
    data["model"].update(model)
    return parse_config(data)


def test_a_party_a_poll_does_not_name_is_part_of_its_others_not_zero():
    """Poll X names c at 10 % with 10 % others; poll Y does not name c and has 20 % others. By
    hand: c and others share Y's 20 % in the ratio X gives them (1:1), so the pooled counts are
    a 900, b 700, c 100 + 100 = 200, others 200 of 2000: c at 10 %. Counting c as 0 in Y (the old
    pooling) gave 100 / 2000 = 5 %."""
    vm = build_vote_model(_election(TWO_POLLS))
    assert vm.buckets == ("a", "b", "c", "others")
    np.testing.assert_allclose(vm.alpha[0], [900.5, 700.5, 200.5, 200.5], rtol=1e-9)
    shares = expected_shares(_election(TWO_POLLS))
    assert abs(shares["c"] - 100 * 200.5 / 2002) < 1e-9


def test_absent_party_rule_holds_for_mixture_and_latest():
    """Mixture: Y's own Dirichlet splits its 20 % others between c and others by the pooled
    estimate (1:1), so c gets 100 of Y's 1000 (not 0). Latest (Y, listed last): the same row."""
    mix = build_vote_model(_election(TWO_POLLS, pooling="mixture"))
    np.testing.assert_allclose(mix.alpha[1], [500.5, 300.5, 100.5, 100.5], rtol=1e-9)
    np.testing.assert_allclose(mix.alpha[0], [400.5, 400.5, 100.5, 100.5], rtol=1e-9)
    latest = build_vote_model(_election(TWO_POLLS, pooling="latest"))
    np.testing.assert_allclose(latest.alpha[0], [500.5, 300.5, 100.5, 100.5], rtol=1e-9)


UNNAMED = """
[election]
seats = 20
threshold = 3.0
[[party]]
id = "a"
[[party]]
id = "b"
[[party]]
id = "u1"
[[party]]
id = "u2"
others_weight = 2.0
[[poll]]
sample_size = 100000
[poll.shares]
a = 50
b = 40
others = 10
[model]
polling_error = 0
others_concentration = 50
[simulation]
seed = 3
"""


def test_lists_no_poll_names_expect_unnamed_share_and_leave_the_rest_unassigned():
    """u1 expects 1 % (unnamed_share), u2 2 % (others_weight 2); 7 of the polls' 10 % others
    are ballots for lists that win nothing: draws sum to about 93 %."""
    e = _election(UNNAMED)
    shares = expected_shares(e)
    assert abs(shares["u1"] - 1.0) < 0.01 and abs(shares["u2"] - 2.0) < 0.02
    _, votes, seats = Engine(e).run_chunks(1, 0, np.array([4000]), record=True)
    v = votes[0]
    assert abs(v[:, 2].mean() - 0.01) < 0.001 and abs(v[:, 3].mean() - 0.02) < 0.001
    assert abs(v.sum(axis=1).mean() - 0.93) < 0.002
    # a bigger expectation than the bucket holds: the lists share the whole bucket by weight
    whole = _election(UNNAMED, unnamed_share=20.0)
    assert abs(sum(expected_shares(whole).values()) - 100.0) < 1e-6
    assert abs(expected_shares(whole)["u2"] - 2 * expected_shares(whole)["u1"]) < 1e-6


def _synthetic_polls(rng, house_sd=0.12, firms=6, per_firm=8, parties=4, n=1500, deff=1.0,
                     days=120, walk_sd=0.01):
    """Polls drawn from the model the house-effect fit assumes: per party, on the logit scale, a
    random-walk support plus the firm's effect (summing to zero over firms), observed through a
    binomial sample of n / deff people reported as n (overdispersed by deff)."""
    base = np.log(np.array([0.35, 0.3, 0.2, 0.15])[:parties] / (1 - np.array([0.35, 0.3, 0.2, 0.15])[:parties]))
    walk = np.cumsum(rng.normal(0, walk_sd, (days + 1, parties)), axis=0)
    h = rng.normal(0, house_sd, (firms, parties))
    h -= h.mean(axis=0)  # sum to zero over firms
    rows, firm_of, age = [], [], []
    m = max(int(n / deff), 1)
    for f in range(firms):
        for _ in range(per_firm):
            d = int(rng.integers(0, days))
            p = 1 / (1 + np.exp(-(base + walk[d] + h[f])))
            rows.append(rng.binomial(m, p) / m)
            firm_of.append(f"firm{f}")
            age.append(float(days - d))
    return np.array(rows), np.full(len(rows), float(n)), np.array(age), tuple(firm_of), h


def test_house_effects_recovered_from_polls_drawn_with_known_effects():
    """Six firms, eight polls each over 120 days, effects of sd 0.12 on the logit scale: each
    fitted effect is within 4 posterior standard errors of the truth, their error is at most 40 %
    of the effects' own spread, and the estimated spread tau is within a factor 2 of 0.12."""
    rng = np.random.default_rng(11)
    shares, n, age, firms, h = _synthetic_polls(rng)
    fit = fit_poll_errors(shares, n, age, firms, shares.shape[1], house=True, estimate_deff=False)
    assert fit.firms == tuple(f"firm{f}" for f in range(6))
    err = fit.firm_effects - h
    first_poll = [list(firms).index(f"firm{f}") for f in range(6)]
    post_sd = np.sqrt(fit.variance[first_poll])
    assert np.all(np.abs(err) < 4 * post_sd)
    assert np.sqrt(np.mean(err ** 2)) < 0.4 * h.std()
    assert np.all((0.06 < fit.tau) & (fit.tau < 0.24))


def test_corrected_polls_agree_better_than_raw_ones():
    rng = np.random.default_rng(5)
    shares, n, age, firms, _ = _synthetic_polls(rng, house_sd=0.2, days=10)
    fit = fit_poll_errors(shares, n, age, firms, shares.shape[1], house=True, estimate_deff=False)
    corrected = fit.correct(shares, np.zeros(len(shares)))
    assert corrected.std(axis=0).sum() < 0.6 * shares.std(axis=0).sum()


@pytest.mark.parametrize("deff", [1.0, 3.0])
def test_design_effect_estimate_recovers_the_overdispersion(deff):
    """Polls of one firm each, with samples of n / deff but reported as n: the estimate is within
    25 % of deff (floored at 1)."""
    rng = np.random.default_rng(int(deff * 10))
    shares, n, age, firms, _ = _synthetic_polls(rng, house_sd=0.0, firms=40, per_firm=1, days=5,
                                                walk_sd=0.0, deff=deff)
    fit = fit_poll_errors(shares, n, age, firms, shares.shape[1], house=False, estimate_deff=True)
    assert abs(fit.deff - deff) < 0.25 * deff


def _synthetic_cases(rng, params: ErrorParams, elections=80, parties=6, n=4000):
    """Elections drawn from the whole vote model: a pooled Dirichlet of polls (n), the shared
    error with ``params``, renormalised; seen as the fit sees them."""
    cases = []
    for k in range(elections):
        theta = rng.dirichlet(np.full(parties, 2.0))
        alpha = theta * n + 0.5
        p = rng.dirichlet(alpha)
        scales = shock_scales(alpha / alpha.sum(), 10.0, params)
        t = math.sqrt(params.df / rng.chisquare(params.df)) if math.isfinite(params.df) else 1.0
        actual = p * np.exp(scales * rng.standard_normal(parties) * t)
        actual /= actual.sum()
        a0 = alpha.sum()
        cases.append(Case(name=f"e{k}", horizon=0,
                          delta=np.log(actual) - (special.digamma(alpha) - special.digamma(a0)),
                          sampling_var=special.polygamma(1, alpha) - special.polygamma(1, a0),
                          theta=alpha / a0, days=10.0))
    return cases


@pytest.mark.parametrize("truth", [ErrorParams(0.15, 10.0, 0.6, 0.0), ErrorParams(0.3, math.inf, 0.9, 0.0)])
def test_shock_scale_and_size_exponent_recovered_from_elections_drawn_from_the_model(truth):
    """80 elections of 6 lists drawn with a known shared error: the fitted scale is within 20 % of
    the truth and the size exponent within 0.2 (drift cannot be told from one horizon: ignored)."""
    cases = _synthetic_cases(np.random.default_rng(7), truth)
    got = fit_error(cases, truth.df)
    assert abs(got.scale * math.sqrt(1 + got.drift * 10 / 30) / truth.scale - 1) < 0.2
    assert abs(got.size_exponent - truth.size_exponent) < 0.2


def _stage(text: str, **model):
    e = _election(text, **model)
    return e, Engine(e).votes


@nb.njit
def _one_block(words, vs, n):
    st = stream_state(words)
    src = np.zeros((n, 128))
    sc = vote_scratch(vs)
    st = draw_shares(st, vs, sc, 128, src)
    return src, sc.mult.copy()


def test_every_poll_in_a_run_shares_the_same_shock():
    """The shock is drawn per run before any poll's gammas: with the same stream, two forecasts
    whose polls differ (other shares, other sizes, mixture of two polls) draw the same standard
    errors (log multiplier over the bucket's scale, which follows the pooled shares), run by
    run; and each run's shares move by exactly those multipliers."""
    words = chunk_states(4, 0, 1)[0]
    _, one = _stage(TWO_POLLS, polling_error=0.2, pooling="mixture")
    other_text = TWO_POLLS.replace("a = 50", "a = 45").replace("b = 30", "b = 35").replace(
        "sample_size = 1000", "sample_size = 50", 1)
    _, two = _stage(other_text, polling_error=0.2, pooling="pooled")
    assert one.shock_on and one.alpha.shape[0] == 2 and two.alpha.shape[0] == 1
    _, mult_one = _one_block(words, one, 3)
    _, mult_two = _one_block(words, two, 3)
    z_one = np.log(mult_one) / one.shock_scale[:, None]
    z_two = np.log(mult_two) / two.shock_scale[:, None]
    np.testing.assert_allclose(z_one, z_two, rtol=1e-12, atol=1e-12)
    assert not np.allclose(one.shock_scale, two.shock_scale)  # the polls did differ
    assert z_one.std() > 0.5  # a real shock, not ones
    # the multipliers are what the shares carry: with the shock's scales set to 0 (same stream
    # use otherwise), share ratios change by exactly the multipliers' ratios
    flat = one._replace(shock_scale=np.zeros_like(one.shock_scale))
    src_shock, m = _one_block(words, one, 3)
    src_flat, ones = _one_block(words, flat, 3)
    assert np.all(ones == 1.0)
    np.testing.assert_allclose(src_shock[0] / src_shock[1], (src_flat[0] / src_flat[1]) * m[0] / m[1],
                               rtol=1e-12)


def test_shock_has_the_student_t_scale_it_was_given():
    """Polls of 10**9 people (no sampling error to speak of), two lists at 50 %: the log ratio
    of their shares is s (z1 - z2) sqrt(df / chi2): variance 2 s^2 df / (df - 2)."""
    text = TWO_POLLS.replace("c = 10\nothers = 10", "").replace("a = 40\nb = 40", "a = 50\nb = 50")
    text = text.replace("a = 50\nb = 30\nothers = 20", "a = 50\nb = 50").replace(
        "sample_size = 1000", "sample_size = 1000000000")
    text = text.replace('[[party]]\nid = "c"\n', "")
    e = _election(text, polling_error=0.1, error_df=5.0, error_size_exponent=1.0, error_drift=0.0)
    _, votes, _ = Engine(e).run_chunks(2, 0, np.full(4, 20_000), record=True)
    v = votes.reshape(-1, 2)
    lr = np.log(v[:, 0] / v[:, 1])
    want = 2 * 0.1 ** 2 * 5 / 3
    n = lr.size
    # the sample variance of a t(5) has a heavy tail: 6 standard errors from its 4th moment
    assert abs(lr.var() / want - 1) < 0.1
    assert abs(lr.mean()) < 4 * math.sqrt(want / n)
    assert n == 80_000


@nb.njit
def _gammas(words, shape, n):
    st = stream_state(words)
    d, c = gamma_constants(shape)
    out = np.empty(n)
    pending = np.empty(128, np.int64)
    keep_a = np.empty(128)
    keep_b = np.empty(128)
    for j in range(0, n, 128):
        st = fill_gamma(st, shape, d, c, out[j:], min(128, n - j), pending, keep_a, keep_b)
    return out


def test_fill_gamma_below_shape_one_has_the_gamma_distribution():
    """Gamma(1/2) is chi-square(1) / 2: its CDF is erf(sqrt(x)). Drawn by blocks as Gamma(3/2)
    times exp(-E / (1/2))."""
    n = 1_000_000
    x = _gammas(chunk_states(12, 0, 1)[0], 0.5, n)
    for p in (1e-4, 0.01, 0.05, 0.2, 0.5, 1.0, 2.0, 4.0):
        want = math.erf(math.sqrt(p))
        got = np.count_nonzero(x <= p) / n
        assert abs(got - want) < 4 * math.sqrt(want * (1 - want) / n) + 1e-9, p


def test_exp_block_is_within_an_ulp_of_exp_and_underflows_to_zero():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-708, 708, 100_000), rng.uniform(-3, 3, 100_000),
                        [-745.0, -709.0, -708.0, 0.0, 1.0, 708.0]])
    out = np.empty_like(x)
    exp_block(x, out, x.size, np.empty_like(x))
    ok = x >= -708.0
    np.testing.assert_allclose(out[ok], np.exp(x[ok]), rtol=2.3e-16, atol=0)
    assert np.all(out[~ok] == 0.0) and out[-3] == 1.0


def test_layers_off_give_the_sampling_only_engine_bit_for_bit():
    """With polling_error = 0 (house effects off, design effect 1) and the old split of "others"
    (unnamed_share = 100), the Belgrade tallies equal those of the engine before the error layers
    existed (commit e416c95), whose digests these are (seed 7, 5 chunks of 1,000 runs)."""
    import hashlib
    import tomllib

    expected = {"pooled": "1d281254560cd644", "mixture": "6b9be41c0869cd54"}
    for pooling, want in expected.items():
        data = tomllib.loads(BELGRADE.read_text(encoding="utf-8"))
        data["model"].update(polling_error=0, unnamed_share=100, pooling=pooling)
        t = Engine(parse_config(data), 1000).run_chunks(7, 0, np.full(5, 1000))
        h = hashlib.sha256()
        for f in ("seat_counts", "threshold", "share_units", "coalition_seat_counts"):
            h.update(np.ascontiguousarray(getattr(t, f), np.int64).tobytes())
        assert h.hexdigest()[:16] == want, pooling


def test_belgrade_default_is_the_calibrated_model():
    e = load_config(BELGRADE)
    assert e.model.polling_error == "calibrated" and e.model.error_scale > 0
    vm = build_vote_model(e)
    assert vm.shock_scale.all() and "shared polling error" in vm.describe()


def test_results_with_every_layer_on_do_not_depend_on_thread_count():
    import json

    from simulator.engine import simulate

    e = load_config(BELGRADE)
    one = simulate(e, runs=40_000, seed=9, threads=1).to_json()
    two = simulate(e, runs=40_000, seed=9, threads=nb.config.NUMBA_NUM_THREADS).to_json()
    for doc in (one, two):
        doc["settings"].pop("threads")
    assert json.dumps(one) == json.dumps(two)
    assert one["parties"]["bt"]["share_p05"] < one["parties"]["bt"]["share_p95"]


def test_a_past_result_anchors_house_effects_that_all_firms_share():
    """Every firm overstates party 0 by 0.15 on the logit scale, in polls around a past election.
    Summing to zero over firms, the fit cannot see a lean they share; anchored by that election's
    result (the truth, on the middle day of the polls), it does. (A result anchors the polls near
    its date: far from it, the trend of support may have moved.)"""
    rng = np.random.default_rng(3)
    shares, n, age, firms, h = _synthetic_polls(rng, house_sd=0.05, days=20, walk_sd=0.0)
    lean = np.zeros(shares.shape[1])
    lean[0] = 0.15
    z = np.log(shares / (1 - shares)) + lean
    biased = 1 / (1 + np.exp(-z))
    p = np.array([0.35, 0.3, 0.2, 0.15])
    free = fit_poll_errors(biased, n, age, firms, 4, house=True, estimate_deff=False)
    anchored = fit_poll_errors(biased, n, age, firms, 4, house=True, estimate_deff=False,
                               anchors=[(10.0, p)])
    assert abs(free.firm_effects[:, 0].mean()) < 0.01
    assert abs(anchored.firm_effects[:, 0].mean() - 0.15) < 0.05


def test_a_single_poll_firm_gets_no_effect_but_less_weight():
    e = load_config(BELGRADE)  # Ipsos and NSPM, one poll each
    vm = build_vote_model(e)
    assert vm.errors is not None and vm.errors.firms == () and not vm.errors.effects.any()
    sizes = [p.sample_size for p in e.polls]
    assert all(eff < 0.5 * n for eff, n in zip(vm.effective_sizes, sizes))
