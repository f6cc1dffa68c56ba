"""Elections with districts: the district kernel equals the plain-Python reference, the official
results of three real elections are reproduced seat for seat in every district, configs are
checked, and the swing keeps every district's shares in [0, 1] summing to 1."""

from __future__ import annotations

import csv
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from simulator.allocation import allocate_districts, allocate_result, district_seats
from simulator.allocation.districts import district_stage
from simulator.allocation.kernels import METHOD_CODES
from simulator.allocation.reference import allocate_reference_districts
from simulator.cli import app
from simulator.config import load_config
from simulator.districts import PROPORTIONAL, UNIFORM, district_scratch, district_shares
from simulator.errors import ConfigError
from simulator.streams import chunk_states, stream_state

from .conftest import ROOT

runner = CliRunner()
CONFIGS = ROOT / "configs"


@st.composite
def district_elections(draw):
    """A batch of elections of one shape: districts x lists of whole vote counts, magnitudes,
    rules."""
    n_d = draw(st.integers(1, 6))
    n = draw(st.integers(2, 9))
    runs = draw(st.integers(1, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([10, 1000, 100_000]))
    votes = rng.integers(0, scale, size=(runs, n_d, n)).astype(float)
    votes[rng.random(votes.shape) < draw(st.sampled_from([0.0, 0.2, 0.5]))] = 0.0
    if draw(st.booleans()):  # ties: copy a list's votes to another
        votes[:, :, 1] = votes[:, :, 0]
    rest = rng.integers(0, scale // 3 + 1, size=(runs, n_d)).astype(float)
    seats = [draw(st.integers(1, 25)) for _ in range(n_d)]
    minority = [draw(st.booleans()) and draw(st.booleans()) for _ in range(n)]
    return dict(votes=votes, rest=rest, seats=seats, minority=minority,
                exempt=draw(st.booleans()), threshold=draw(st.sampled_from([0.0, 3.0, 5.0, 12.5])),
                method=draw(st.sampled_from(list(METHOD_CODES))),
                scope=draw(st.sampled_from(["national", "district"])))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(district_elections())
def test_district_kernel_equals_the_reference(case):
    votes, rest, seats = case["votes"], case["rest"], case["seats"]
    n_d, n = votes.shape[1:]
    national = case["scope"] == "national"
    thresholds = np.full((1 if national else n_d, n), case["threshold"])
    stage = district_stage(seats, METHOD_CODES[case["method"]], thresholds, national,
                           case["minority"], case["exempt"], 27, 20)
    got = allocate_districts(votes, rest, stage)
    for r in range(0, votes.shape[0], max(1, votes.shape[0] // 25)):
        v = votes[r]
        want = allocate_reference_districts(
            v.tolist(), seats, case["method"], case["threshold"], case["scope"],
            v.sum() + rest[r].sum(), (v.sum(axis=1) + rest[r]).tolist(), case["minority"],
            case["exempt"], Fraction(27, 20))
        assert got[r].tolist() == want, r


def test_the_national_threshold_uses_national_totals_not_district_ones():
    """A list at 15 % in a small district and 0.5 % in a big one has 2.9 % nationally: with the
    threshold on national votes it wins nothing, on district votes a seat where it has 15 %."""
    votes = np.array([[[20.0, 14.0, 6.0], [100.0, 99.0, 1.0]]])
    rest = np.zeros((1, 2))
    for national, want in ((True, 0), (False, 1)):
        stage = district_stage([10, 10], 0, np.full((1 if national else 2, 3), 5.0), national,
                               [False] * 3, False, 1, 1)
        assert allocate_districts(votes, rest, stage)[0, :, 2].tolist() == [want, 0]


def _official(name):
    out: dict[str, dict[str, int]] = {}
    with open(CONFIGS / f"{name}-seats.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["district"], {})[row["party"]] = int(row["seats"])
    return out


@pytest.mark.parametrize("name, national", [
    ("czechia-2017", {"ano": 78, "ods": 25, "pirati": 22, "spd": 22, "kscm": 15, "cssd": 15,
                      "kdu": 10, "top09": 7, "stan": 6}),
    ("poland-2019", {"zp": 235, "ko": 134, "l": 49, "kp": 30, "konf": 11, "bs": 0, "mn": 1}),
    ("portugal-2019", {"ps": 108, "psd": 79, "be": 19, "cdu": 12, "cds-pp": 5, "pan": 4, "ch": 1,
                       "i": 1, "l": 1, "a": 0}),
])
def test_real_elections_reproduce_their_official_seats_in_every_district(name, national):
    e = load_config(CONFIGS / f"{name}.toml")
    assert {r.id: r.seats for r in allocate_result(e)} == national
    official = _official(name)
    got = district_seats(e)
    for d in e.districts:
        assert sum(got[d.id].values()) == d.seats
        for p in e.party_ids:
            assert got[d.id][p] == official.get(d.id, {}).get(p, 0), (d.id, p)


def test_allocate_json_has_national_and_district_seats():
    r = runner.invoke(app, ["allocate", str(CONFIGS / "poland-2019.toml"), "--json"])
    assert r.exit_code == 0, r.output
    import json

    doc = json.loads(r.stdout)
    assert doc["seats"]["mn"] == 1 and doc["districts"]["d21"]["mn"] == 1  # Opole
    assert sum(doc["districts"]["d19"].values()) == 20  # Warsaw


DISTRICTED = """
[election]
seats = 6
threshold = 5.0
[[party]]
id = "a"
[[party]]
id = "b"
[[district]]
id = "north"
seats = 4
[[district]]
id = "south"
seats = 2
[result]
district_votes = "votes.csv"
"""


@pytest.mark.parametrize("rows, message", [
    ("district,party,votes\nnorth,a,10\nsouth,a,5\neast,b,3\n", "unknown district 'east'"),
    ("district,party,votes\nnorth,a,10\nsouth,zz,5\n", "unknown party 'zz'"),
    ("district,party,votes\nnorth,a,10\nnorth,a,4\nsouth,a,5\n", "a second row for north, a"),
    ("district,party,votes\nnorth,a,-1\nsouth,a,5\n", "non-negative"),
    ("district,party,votes\nnorth,a,ten\nsouth,a,5\n", "is not a number"),
    ("district,party,votes\nnorth,a,10\n", "district 'south' has no votes"),
    ("district,list,votes\nnorth,a,10\n", "header must be district,party,votes"),
])
def test_bad_district_csvs_are_one_line_errors(write_config, tmp_path, rows, message):
    (tmp_path / "votes.csv").write_text(rows, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(write_config(DISTRICTED))
    assert message in str(info.value) and "result.district_votes" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("change, message", [
    (("seats = 2\n[result]", "seats = 3\n[result]"), "the districts' seats sum to 7"),
    (('id = "south"\n', 'id = "south"\nthreshold = 3.0\n'), "threshold_scope"),
    (("[result]\ndistrict_votes", "[result]\nvotes = { a = 1 }\ndistrict_votes"), "not both"),
])
def test_district_config_mistakes_are_errors(write_config, tmp_path, change, message):
    (tmp_path / "votes.csv").write_text("district,party,votes\nnorth,a,10\nsouth,b,5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(write_config(DISTRICTED.replace(*change)))


def test_district_csv_reserved_ids_count_in_the_base_but_win_nothing(write_config, tmp_path):
    (tmp_path / "votes.csv").write_text(
        "district,party,votes\nnorth,a,60\nnorth,b,4\nnorth,blank,36\nsouth,a,50\nsouth,b,6\n"
        "south,others,44\n", encoding="utf-8")
    e = load_config(write_config(DISTRICTED))
    rows = {r.id: r for r in allocate_result(e)}
    assert rows["b"].share == pytest.approx(5.0) and rows["b"].qualified  # 10 of 200
    assert rows["a"].seats + rows["b"].seats == 6


def _swing(dv, src, noise):
    import numba as nb

    @nb.njit
    def run(words, src, dv, n):
        scratch = district_scratch(dv, n)
        st = stream_state(words)
        st = district_shares(st, src, src.shape[1], dv, scratch[0], scratch[1], scratch[3])
        return scratch[0][:, :, : src.shape[1]].copy(), scratch[1][:, : src.shape[1]].copy()

    return run(chunk_states(3, 0, 1)[0], np.ascontiguousarray(src), dv._replace(noise=noise),
               src.shape[0])


@pytest.mark.parametrize("swing", [PROPORTIONAL, UNIFORM])
def test_unchanged_polls_reproduce_the_baseline_and_shares_stay_in_range(swing):
    from simulator.districts import district_votes_record

    e = load_config(CONFIGS / "poland-2019.toml")
    dv = district_votes_record(e)._replace(swing=swing)
    n = len(e.parties)
    same = np.repeat(dv.national[:n, None], 64, axis=1)  # national draws equal to the baseline
    dsrc, drest = _swing(dv, same, 0.0)
    shares = dsrc / dv.weight[:, None, None]
    np.testing.assert_allclose(shares[:, :, 0], dv.base[:, :n], atol=1e-12)
    rng = np.random.default_rng(5)
    draws = rng.dirichlet(np.full(n + 1, 0.7), size=128).T[:n]  # far from the baseline
    for noise in (0.0, 0.3):
        dsrc, drest = _swing(dv, draws, noise)
        shares = dsrc / dv.weight[:, None, None]
        rest = drest / dv.weight[:, None]
        assert shares.min() >= 0.0 and shares.max() <= 1.0 and rest.min() >= 0.0
        np.testing.assert_allclose(shares.sum(axis=1) + rest, 1.0, atol=1e-12)


def test_forecast_with_districts_is_thread_independent_and_reports_districts():
    import json

    import numba as nb

    from simulator.engine import simulate

    e = load_config(CONFIGS / "poland-2019.toml")
    one = simulate(e, runs=6_000, seed=4, threads=1).to_json()
    two = simulate(e, runs=6_000, seed=4, threads=nb.config.NUMBA_NUM_THREADS).to_json()
    for doc in (one, two):
        doc["settings"].pop("threads")
    assert json.dumps(one) == json.dumps(two)
    opole = one["districts"]["d21"]["mn"]
    assert set(opole) == {"mean_seats", "seats_p05", "seats_p95", "p_seat"}
    assert opole["p_seat"] > 0.3 and one["districts"]["d19"]["mn"]["p_seat"] == 0.0
    seats = sum(one["parties"][p]["mean_seats"] for p in one["parties"])
    assert seats == pytest.approx(460.0)
    assert sum(one["districts"]["d19"][p]["mean_seats"] for p in one["parties"]) == pytest.approx(20.0)
