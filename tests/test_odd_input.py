"""Odd input, as a new user gives it (#26): every mistake is one line and exit code 2, never a
traceback, a crash or a number that is silently wrong; and extreme but valid input works."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from simulator.cli import app
from simulator.config import ConfigError, load_config, parse_config
from simulator.errors import InputError

from .conftest import BELGRADE, ROOT

runner = CliRunner()

TINY = """
[election]
seats = 3
[[party]]
id = "a"
[[party]]
id = "b"
[[poll]]
sample_size = 1000
[poll.shares]
a = 60
b = 40
[simulation]
runs = 2000
seed = 1
"""


def one_line_error(result, *words) -> None:
    """Exit code 2, a single line on stderr naming ``words``, and no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for w in words:
        assert w in lines[0], lines[0]


# --- 1, 19: nothing non-finite reaches a kernel -------------------------------------------------------


def test_cauchy_polling_error_gives_finite_shares_and_leaves_no_temporary_files(tmp_path):
    """error_df = 1 (a Cauchy) used to overflow the error multipliers into NaN shares, which the
    kernels turned into a segmentation fault, leaving the --draws temporary folder behind."""
    cfg = tmp_path / "b.toml"
    cfg.write_text(BELGRADE.read_text().replace("[model]\n", "[model]\nerror_df = 1\n"))
    out = tmp_path / "run"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "simulator", "simulate", str(cfg), "--runs", "40000",
                           "--seed", "1", "--json", str(out / "o.json"), "--draws", str(out / "d.npz")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((out / "o.json").read_text())
    for p in doc["parties"].values():
        assert 0.0 <= p["share_p05"] <= p["mean_share"] <= 100.0
    assert sorted(x.name for x in out.iterdir()) == ["d.npz", "o.json"]
    draws = np.load(out / "d.npz")
    assert np.isfinite(draws["shares"]).all() and (draws["seats"].sum(axis=1) == 110).all()


def test_a_half_life_that_ages_every_poll_to_nothing_is_one_line(write_config):
    path = write_config(TINY.replace("[election]\n", "[election]\ndate = 2024-06-02\n")
                        .replace("sample_size = 1000", "date = 2024-05-28\nsample_size = 1000")
                        + "[model]\nhalf_life_days = 0.001\n")
    one_line_error(runner.invoke(app, ["simulate", str(path)]), "model.half_life_days", "0.001")


def test_a_record_with_a_nan_is_refused_before_any_kernel():
    from simulator.engine import check_finite
    from simulator.tally import TallySpec

    spec = TallySpec(thresholds=np.array([3.0, np.nan]), base=1.0, coalition_members=np.zeros((0, 2)))
    with pytest.raises(InputError, match="TallySpec.thresholds"):
        check_finite("c.toml", spec)
    check_finite("c.toml", spec._replace(thresholds=np.array([3.0, 5.0])))


# --- 2: sizes that set memory have bounds --------------------------------------------------------------


@pytest.mark.parametrize("seats", ["99999999999999999999", "100000000"])
def test_absurd_seat_counts_are_one_line(write_config, seats):
    path = write_config(TINY.replace("seats = 3", f"seats = {seats}"))
    one_line_error(runner.invoke(app, ["allocate", str(path)]), "election.seats", "at most 100000")


def test_a_scenario_with_a_billion_seats_is_one_line(write_config):
    path = write_config(TINY + '[[scenario]]\nname = "huge"\nelection.seats = 1000000000\n')
    one_line_error(runner.invoke(app, ["sweep", str(path), "--runs", "500"]), "huge", "election.seats")


def test_a_simulation_that_cannot_fit_in_memory_is_refused_before_it_starts(write_config, monkeypatch):
    import simulator.engine as engine

    election = load_config(write_config(TINY))
    monkeypatch.setattr(engine, "physical_memory", lambda: 100_000)
    with pytest.raises(InputError, match=r"needs about .* GiB of memory"):
        engine.simulate(election, runs=100)
    monkeypatch.setattr(engine, "physical_memory", lambda: 8 * 2**30)
    assert engine.simulate(election, runs=100).runs == 100


def test_memory_estimate_grows_with_seats_and_variants():
    from simulator.engine import memory_estimate

    e = load_config(BELGRADE)
    small = memory_estimate(e, 2)
    assert memory_estimate(e, 2, seats=100_000) > 40 * small
    assert memory_estimate(e, 2, variants=5) > 3 * small


# --- 3: reports of a handful of runs --------------------------------------------------------------------


@pytest.mark.parametrize("runs", ["1", "3"])
def test_reports_of_one_or_three_runs_are_written(tmp_path, runs):
    out = tmp_path / "r"
    result = runner.invoke(app, ["report", str(BELGRADE), "--runs", runs, "--seed", "1", "--out", str(out),
                                 "--format", "md,png"])
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "nan" not in md.lower() and "-200" not in md
    if runs == "1":
        assert "no s.e. from one run" in md


# --- 4, 24: output files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--json", "--csv", "--markdown", "--draws"])
def test_an_output_where_nothing_can_be_written_is_one_line_before_simulating(write_config, option):
    path = write_config(TINY)
    result = runner.invoke(app, ["simulate", str(path), option, "/proc/x"])
    one_line_error(result, "/proc/x")


def test_a_file_name_too_long_is_one_line(write_config, tmp_path):
    result = runner.invoke(app, ["simulate", str(write_config(TINY)), "--json", str(tmp_path / ("x" * 300))])
    one_line_error(result, "file name too long")


def test_an_output_over_the_input_config_is_refused(write_config):
    path = write_config(TINY)
    before = path.read_text()
    one_line_error(runner.invoke(app, ["simulate", str(path), "--json", str(path)]), "input")
    one_line_error(runner.invoke(app, ["simulate", str(path), "--json", str(path.parent / "o.json"),
                                       "--csv", str(path.parent / "o.json")]), "two outputs")
    assert path.read_text() == before


def test_report_checks_its_directory_before_simulating(write_config, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["report", str(write_config(TINY)), "--out", str(blocker / "rep")])
    one_line_error(result, "is a file, not a directory")
    result = runner.invoke(app, ["report", str(write_config(TINY)), "--out", "/proc/rep"])
    one_line_error(result, "/proc")


def test_outputs_are_written_all_or_none_and_old_files_survive(tmp_path, monkeypatch):
    """When the second of two replacements fails (an immutable file, say), the first is undone:
    no JSON without its CSV, and the files there before keep their contents."""
    from simulator import files

    a, b = tmp_path / "o.json", tmp_path / "o.csv"
    a.write_text("old json")
    real = os.replace

    def replace(src, dst):
        if Path(dst) == b:
            raise PermissionError(1, "Operation not permitted")
        real(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    with pytest.raises(InputError, match="o.csv: cannot be replaced"):
        with files.Outputs() as out:
            out.add(a, "new json")
            out.add(b, "new csv")
            out.commit()
    assert a.read_text() == "old json" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.json"]  # no temporary file left


def test_a_file_that_cannot_be_linked_is_not_replaced(tmp_path, monkeypatch):
    from simulator import files

    a = tmp_path / "o.json"
    a.write_text("old")

    def link(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", link)
    with pytest.raises(InputError, match="immutable"):
        files.write_atomic(a, "new")
    assert a.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["o.json"]


# --- 6, 17, 22: configs of the wrong shape ---------------------------------------------------------------


@pytest.mark.parametrize("doc", ['{"settings": {"config": [1]}}', '{"settings": {"config": {"election": 3}}}',
                                 '{"settings": {"config": {"election": {"seats": 3}, "poll": 3}}}',
                                 '{"settings": {"config": {"election": {"seats": 3}, "poll": [3]}}}',
                                 "[" * 100000 + "]" * 100000])
def test_json_configs_of_the_wrong_shape_are_one_line(tmp_path, doc):
    path = tmp_path / "x.json"
    path.write_text(doc)
    one_line_error(runner.invoke(app, ["simulate", str(path)]), "x.json")


def test_toml_nested_a_thousand_deep_is_one_line(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 1000 + "]" * 1000 + "\n")
    one_line_error(runner.invoke(app, ["allocate", str(path)]), "nested too deeply")


def test_a_poll_table_instead_of_an_array_is_one_line(write_config):
    path = write_config(TINY.replace("[[poll]]", "[poll]").replace("[poll.shares]", "[poll.shares]"))
    one_line_error(runner.invoke(app, ["simulate", str(path)]), "poll")


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BELGRADE.read_bytes())
    assert load_config(path).rules.seats == 110


def _paths(d, pre=()):
    if isinstance(d, dict):
        for k, v in d.items():
            yield pre + (k,)
            yield from _paths(v, pre + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield pre + (i,)
            yield from _paths(v, pre + (i,))


_BASE = tomllib.loads(BELGRADE.read_text())
_BASE["scenario"] = [{"name": "s", "election": {"threshold": 5.0}}]
_BASE["past_result"] = [{"date": dt.date(2023, 12, 17), "shares": {"bt": 50, "others": 50}}]
_PATHS = list(_paths(_BASE))
_ODD = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.just(10**400), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "x", "quota", "normal", "estimate", "calibrated", "2024-01-01"]),
    st.dates(), st.lists(st.integers(), max_size=2), st.just({}), st.just({"a": 1}), st.just([{}]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_PATHS), _ODD), min_size=1, max_size=2))
def test_any_value_anywhere_in_a_config_is_a_config_error_or_a_config(changes):
    """Replace one or two values anywhere in the Belgrade config by odd ones: loading it, and
    building what a simulation and a sweep would build from it, raises a ConfigError or works."""
    from simulator.allocation import allocate_result, kernel_rules
    from simulator.scenarios import variants_of
    from simulator.votes.model import build_vote_model

    doc = copy.deepcopy(_BASE)
    for path, value in changes:
        table = doc
        try:
            for k in path[:-1]:
                table = table[k]
            table[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        election = parse_config(doc, "odd.toml")
        build_vote_model(election).stage()
        kernel_rules(election.rules, election.parties)
        variants_of(election)
        if election.result is not None:
            allocate_result(election)
    except InputError:
        pass


# --- 7: quantiles are values the runs took ------------------------------------------------------------------


def test_seat_quantiles_of_few_runs_are_seat_counts_some_run_had():
    from simulator.engine import simulate

    result = simulate(load_config(BELGRADE), runs=150, seed=1)
    for p in result.parties.values():
        for q in (p.seats_p05, p.seats_p50, p.seats_p95):
            assert p.seat_counts[q] > 0, (p.id, q)
        assert p.seats_p05 <= p.seats_p50 <= p.seats_p95


def test_quantile_with_a_tolerance_larger_than_the_level_is_the_smallest_value_taken():
    from simulator.results import quantile

    probs = np.zeros(30)
    probs[17], probs[20], probs[25] = 0.2, 0.5, 0.3
    assert quantile(probs, 0.05, 150) == 17
    assert quantile(probs, 0.05) == 17 and quantile(probs, 0.95) == 25


def test_district_quantiles_of_few_runs_are_seat_counts_some_run_had():
    from simulator.engine import simulate

    result = simulate(load_config(ROOT / "configs" / "poland-2019.toml"), runs=500, seed=1)
    for parties in result.districts.values():
        for x in parties.values():
            if x.p_seat == 1.0:
                assert x.seats_p05 >= 1


# --- 10: a quota threshold -------------------------------------------------------------------------------------


QUOTA = """
[election]
seats = 150
threshold = "quota"
[[party]]
id = "a"
[[party]]
id = "b"
[[party]]
id = "c"
[result.votes]
a = 100000
b = 49000
c = 1000
"""


def test_a_quota_threshold_is_one_seats_worth_of_votes(write_config):
    """With 150 seats and 150,000 valid votes a list needs 1,000 votes: c has exactly that and
    qualifies, and with one vote less it would not (the law's 'kiesdeler')."""
    from simulator.allocation import allocate_result, allocate_reference

    e = load_config(write_config(QUOTA))
    assert e.warnings == ()  # no "tiny threshold" warning: the quota is the law's own words
    rows = {r.id: r for r in allocate_result(e)}
    assert rows["c"].qualified and rows["c"].seats == 1
    e2 = load_config(write_config(QUOTA.replace("b = 49000", "b = 49001").replace("c = 1000", "c = 999")))
    rows = {r.id: r for r in allocate_result(e2)}
    assert not rows["c"].qualified and rows["c"].seats == 0
    assert allocate_reference([100000, 49001, 999], 150, thresholds=e2.rules.threshold)[2] == 0
    assert allocate_reference([100000, 49000, 1000], 150, thresholds=e.rules.threshold)[2] == 1


def test_the_quota_follows_the_seats_in_a_scenario_and_in_districts(write_config):
    from simulator.config import config_document
    from simulator.scenarios import variants_of

    e = load_config(write_config(QUOTA + '[[scenario]]\nname = "100 seats"\nelection.seats = 100\n'))
    assert config_document(e)["election"]["threshold"] == "quota"
    variant = variants_of(e)[1].election
    assert variant.rules.threshold == pytest.approx(1.0) and variant.rules.threshold <= 1.0
    assert e.rules.threshold <= 100 / 150 < np.nextafter(e.rules.threshold, 1.0)


def test_a_quota_threshold_by_district_is_each_districts_own(tmp_path):
    from simulator.allocation import district_rules

    (tmp_path / "v.csv").write_text("district,party,votes\nd1,a,90\nd1,b,10\nd2,a,70\nd2,b,30\n")
    cfg = tmp_path / "d.toml"
    cfg.write_text('[election]\nseats = 14\nthreshold = "quota"\nthreshold_scope = "district"\n'
                   '[[party]]\nid = "a"\n[[party]]\nid = "b"\n[[district]]\nid = "d1"\nseats = 4\n'
                   '[[district]]\nid = "d2"\nseats = 10\nthreshold = 20\n'
                   '[result]\ndistrict_votes = "v.csv"\n')
    thresholds = district_rules(load_config(cfg)).thresholds
    assert thresholds[0, 0] == pytest.approx(25.0) and thresholds[1, 0] == 20.0


# --- 11, 18, 20: values far outside what elections have -------------------------------------------------------


def test_an_implausible_sample_size_is_warned_and_an_impossible_one_refused(write_config):
    result = runner.invoke(app, ["allocate", str(write_config(TINY.replace("sample_size = 1000",
                                                                             "sample_size = 2e6")
                                                                + "[result.votes]\na = 1\n"))])
    assert result.exit_code == 0 and "more respondents than any poll" in result.stderr
    one_line_error(runner.invoke(app, ["simulate", str(write_config(TINY.replace(
        "sample_size = 1000", "sample_size = 1e20")))]), "sample_size", "at most")


def test_numbers_too_large_for_a_float_are_one_line(write_config):
    one_line_error(runner.invoke(app, ["allocate", str(write_config(
        TINY.replace("seats = 3", "seats = 3\nthreshold = 1" + "0" * 400) + "[result.votes]\na = 1\n"))]),
        "election.threshold", "too large")
    one_line_error(runner.invoke(app, ["allocate", str(write_config(
        TINY + "[result.votes]\na = 1e308\nb = 1e308\n"))]), "result.votes.a", "at most")


def test_a_huge_vote_count_in_a_district_csv_is_one_line(tmp_path):
    cfg = tmp_path / "p.toml"
    cfg.write_text((ROOT / "configs" / "poland-2019.toml").read_text()
                   .replace('"poland-2015-districts.csv"', '"base.csv"')
                   .replace('"poland-2019-districts.csv"', f'"{ROOT / "configs" / "poland-2019-districts.csv"}"'))
    rows = (ROOT / "configs" / "poland-2015-districts.csv").read_text().splitlines()
    rows[1] = ",".join(rows[1].split(",")[:2] + ["1e200"])
    (tmp_path / "base.csv").write_text("\n".join(rows) + "\n")
    one_line_error(runner.invoke(app, ["simulate", str(cfg)]), "base.csv:2", "at most")
    # allocate does not use the baseline: a warning, and the result's seats
    result = runner.invoke(app, ["allocate", str(cfg), "--json"])
    assert result.exit_code == 0 and "base.csv:2" in result.stderr


@pytest.mark.parametrize("date", ["0001-01-01", "1900-01-01"])
def test_a_poll_decades_before_the_election_is_one_line(write_config, date):
    text = TINY.replace("[election]\n", "[election]\ndate = 2024-06-02\n").replace(
        "sample_size = 1000", f"date = {date}\nsample_size = 1000")
    one_line_error(runner.invoke(app, ["simulate", str(write_config(text))]), "poll 1", "10 years")


def test_an_election_date_far_in_the_future_is_one_line(write_config):
    text = TINY.replace("[election]\n", "[election]\ndate = 9999-12-31\n").replace(
        "sample_size = 1000", "date = 2024-05-28\nsample_size = 1000")
    one_line_error(runner.invoke(app, ["simulate", str(write_config(text))]), "poll 1", "10 years")


def test_the_house_effect_fit_grows_with_the_polls_not_the_days_they_span():
    """Nine years of polls, a few a year: the trend's system has one unknown per week with a
    poll (integrating the empty weeks out exactly), and equals the full weekly random walk."""
    from simulator.votes import house

    rng = np.random.default_rng(3)
    days = np.sort(rng.choice(np.arange(0, 9 * 365), 12, replace=False)).astype(float)[::-1]
    firms = tuple("ABC"[i % 3] for i in range(12))
    shares = np.column_stack([0.3 + 0.02 * rng.standard_normal(12), np.full(12, np.nan)])
    shares[:, 1] = 1 - shares[:, 0]
    n = np.full(12, 1000.0)
    fit = house.fit_poll_errors(shares, n, days, firms, 2, house=True, estimate_deff=False)
    seen = []
    real = house._Party.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen.append(self.x.shape[1])

    house._Party.__init__ = spy
    try:
        house.fit_poll_errors(shares, n, days, firms, 2, house=True, estimate_deff=False)
    finally:
        house._Party.__init__ = real
    assert max(seen) <= 12 + 3
    # the dense weekly walk, solved directly, gives the same house effects
    part = house._Party(np.arange(12), np.log(shares[:, 0] / (1 - shares[:, 0])),
                        1 / (n * shares[:, 0] * (1 - shares[:, 0])), days,
                        np.array(["ABC".index(f) for f in firms]), np.zeros(12, bool), 3, False)
    weeks = np.floor(days / 7).astype(int) - int(np.floor(days / 7).min())
    b = int(weeks.max()) + 1
    x = np.zeros((12, b + 3))
    x[np.arange(12), weeks] = 1
    x[np.arange(12), b + np.array(["ABC".index(f) for f in firms])] = 1
    walk = np.zeros((b + 3, b + 3))
    step = 1 / (house.TREND_SD ** 2 * 7)
    for j in range(b - 1):
        walk[j:j + 2, j:j + 2] += step * np.array([[1, -1], [-1, 1]])
    walk[0, 0] += 1e-10
    ones = np.r_[np.zeros(b), np.ones(3)]
    walk += house._SUM_ZERO * np.outer(ones, ones)
    tau2 = fit.tau[0] ** 2
    part.solve(1.0, tau2)
    a = walk.copy()
    a[b:, b:] += np.eye(3) / tau2
    w = 1 / (1 / (n * shares[:, 0] * (1 - shares[:, 0])))
    a += (x * w[:, None]).T @ x
    dense = np.linalg.solve(a, x.T @ (w * part.l))
    assert np.allclose(dense[b:], part.house()[0], atol=1e-9)


# --- 21: seats never vanish -------------------------------------------------------------------------------------


def test_polls_that_name_no_list_with_others_whole_are_one_line(write_config):
    text = TINY.replace("a = 60\nb = 40", "others = 100") + '[model]\nothers = "whole"\n'
    one_line_error(runner.invoke(app, ["simulate", str(write_config(text))]), "every seat would go unfilled")


def test_a_district_with_votes_only_for_others_is_one_line(tmp_path):
    csv = "district,party,votes\nd1,a,100\nd1,b,50\nd2,others,10\nd2,blank,5\n"
    (tmp_path / "v.csv").write_text(csv)
    cfg = tmp_path / "d.toml"
    cfg.write_text('[election]\nseats = 6\n[[party]]\nid = "a"\n[[party]]\nid = "b"\n'
                   '[[district]]\nid = "d1"\nseats = 2\n[[district]]\nid = "d2"\nseats = 4\n'
                   '[result]\ndistrict_votes = "v.csv"\n')
    one_line_error(runner.invoke(app, ["allocate", str(cfg)]), "'d2'", "no list")


def test_a_district_the_uniform_swing_empties_gets_the_national_shares():
    from simulator.districts import DistrictVotes, UNIFORM, district_shares

    # two lists, two districts; in district 1 both lists were weak, and a uniform swing of -20
    # points takes both to 0 there: it gets the national shares instead of no list at all
    dv = DistrictVotes(True, np.array([[0.5, 0.4, 0.1], [0.05, 0.05, 0.9]]), np.array([0.3, 0.3, 0.4]),
                       np.array([0.5, 0.5]), np.zeros(2, np.bool_), UNIFORM, 0.0)
    src = np.zeros((2, 128))
    src[0, :2] = 0.1, 0.3
    src[1, :2] = 0.2, 0.3
    dsrc = np.zeros((2, 2, 128))
    drest = np.zeros((2, 128))
    from simulator.streams import stream_state, chunk_states

    st = stream_state(chunk_states(1, 0, 1)[0])
    district_shares(st, src, 2, dv, dsrc, drest, np.empty((3, 132)))
    assert dsrc[1, :, 0].sum() > 0  # run 0: both lists fell to 0 in district 1
    assert np.isclose(dsrc[1, 0, 0] / dsrc[1, 1, 0], 0.1 / 0.2)  # their national shares there


# --- 15, 22, 30: sweeps --------------------------------------------------------------------------------------------


def test_a_sweep_over_the_vote_model_says_why_not(write_config):
    result = runner.invoke(app, ["sweep", str(BELGRADE), "--set", "model.error_df=normal"])
    one_line_error(result, "separate forecast")


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "[1,2]", "{a=1}", "-1", "true"])
def test_odd_seat_values_in_a_sweep_are_one_line(write_config, value):
    result = runner.invoke(app, ["sweep", str(write_config(TINY)), "--set", f"election.seats={value}",
                                 "--runs", "500"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "election.seats" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_odd_values_in_a_scenario_table_are_one_line(write_config):
    for value in ('"abc"', "nan", "inf", "[1]", "{a = 1}"):
        path = write_config(TINY + f'[[scenario]]\nname = "x"\nelection.seats = {value}\n')
        one_line_error(runner.invoke(app, ["sweep", str(path), "--runs", "500"]), "scenario 'x'")


def test_a_grid_that_repeats_the_baseline_or_a_scenario_is_trimmed():
    from simulator.scenarios import grid_scenarios, new_scenarios

    e = load_config(BELGRADE)  # threshold 3, D'Hondt; its scenarios include "5 % threshold"
    grid = grid_scenarios(["election.threshold=3,4,5"])
    keep, dropped = new_scenarios(e, grid)
    assert [s.name for s in keep] == ["election.threshold=4"]
    assert any("election.threshold=3" in d and "baseline" in d for d in dropped)
    assert any("election.threshold=5" in d and "5 % threshold" in d for d in dropped)


# --- 23: --draws with many seats ------------------------------------------------------------------------------------


def test_draws_of_an_election_of_100000_seats_hold_every_seat_count(write_config, tmp_path):
    path = tmp_path / "d.npz"
    result = runner.invoke(app, ["simulate", str(write_config(TINY.replace("seats = 3", "seats = 100000"))),
                                 "--runs", "300", "--draws", str(path)])
    assert result.exit_code == 0, result.output
    seats = np.load(path)["seats"]
    assert seats.dtype == np.int32 and (seats >= 0).all() and (seats.sum(axis=1) == 100000).all()


# --- 19, 31: numbers as the runs counted them -----------------------------------------------------------------------


def test_bounds_of_events_seen_in_none_of_a_few_runs_are_probabilities():
    from simulator.report import format_probability

    assert format_probability(1.0, 1) == "> 5 %" and format_probability(0.0, 1) == "< 95 %"
    assert format_probability(0.0, 1_000_000) == "< 0.0003 %"  # the rule of three, for many runs


def test_p_at_least_counts_in_integers_and_divides_once():
    from simulator.engine import simulate

    result = simulate(load_config(BELGRADE), runs=16_000, seed=3)
    p = result.parties["bt"]
    for k in (50, 56, 57, 60):
        assert p.p_at_least(k) == sum(p.seat_counts[k:]) / 16_000


def test_allocate_warns_about_a_bad_poll_it_does_not_use(write_config):
    text = TINY.replace("b = 40", "b = 37") + "[result.votes]\na = 60\nb = 40\n"
    result = runner.invoke(app, ["allocate", str(write_config(text)), "--json"])
    assert result.exit_code == 0, result.output
    assert "shares sum to 97" in result.stderr and "ignored" in result.stderr
    assert json.loads(result.stdout)["seats"] == {"a": 2, "b": 1}
    one_line_error(runner.invoke(app, ["simulate", str(write_config(text))]), "shares sum to 97")


def test_a_config_error_in_what_allocate_needs_is_still_an_error(write_config):
    text = TINY + "[result.votes]\na = -5\n"
    one_line_error(runner.invoke(app, ["allocate", str(write_config(text))]), "result.votes.a")


# --- 12, 29: progress -------------------------------------------------------------------------------------------------


def test_the_progress_bar_moves_within_a_wave():
    import time

    from simulator.engine import Ticker

    seen = []
    ticker = Ticker(lambda done, total: seen.append(done), 1000, every=0.01)

    def wave(ticks):
        ticks[0] = 250
        time.sleep(0.2)
        ticks[1] = 250
        time.sleep(0.2)
        return "tally"

    assert ticker.during(wave, np.array([500, 500])) == "tally"
    assert 250 in seen and 500 in seen and ticker.done == 1000


def test_compile_says_what_it_compiled_and_how_long_it_took(monkeypatch):
    import simulator.engine as engine

    def warm(say=None, load=False):
        say(engine.SIMULATION_KERNELS)
        say(engine.SWEEP_KERNELS)
        return True

    monkeypatch.setattr(engine, "warm", warm)
    result = runner.invoke(app, ["compile"])
    assert result.exit_code == 0
    assert "compiled the simulation kernels in" in result.stderr
    assert "compiled the sweep kernels in" in result.stderr and "first run only" not in result.stderr


def test_the_licence_pyproject_names_is_in_the_repository():
    import tomllib

    from .conftest import ROOT

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["license"]
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert declared == "MIT" and text.startswith("MIT License") and "electsim developers" in text


def test_every_tail_probability_at_once_equals_each_one_counted():
    from simulator.results import at_least_all

    class R:  # a list's result: its seat counts over 7 runs
        seat_counts = [1, 0, 3, 2, 1]
        runs = 7
        seat_probabilities = [c / 7 for c in seat_counts]

    assert at_least_all(R) == [1.0, 6 / 7, 6 / 7, 3 / 7, 1 / 7]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=2, max_size=8), st.integers(1, 30), st.data())
def test_coalitions_within_reach_are_every_combination_whose_best_runs_reach_a_majority(most, majority, data):
    import itertools

    from simulator.coalitions import _within_reach

    members = sorted(data.draw(st.sets(st.integers(0, len(most) - 1), min_size=1)))
    most = np.array(most)
    for size in range(2, 5):
        want = [c for c in itertools.combinations(members, size) if sum(int(most[i]) for i in c) >= majority]
        assert list(_within_reach(members, most, size, majority)) == want
