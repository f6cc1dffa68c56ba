"""What-if scenarios on common random numbers (``electsim sweep``): a scenario with the baseline's
rules is the baseline bit for bit; every scenario's seats and paired differences equal what plain
Python computes from the same runs' draws; merges; refusal of vote-model overrides; config and
command-line errors; reports."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from simulator.allocation.reference import allocate_reference
from simulator.config import Scenario, load_config
from simulator.engine import Engine, simulate, threshold_base
from simulator.errors import ConfigError, InputError
from simulator.scenarios import grid_scenarios, paired_difference, sweep, variant_of

from .conftest import BELGRADE, ROOT

SMALL = """
[election]
name = "Small"
seats = 40
majority = 21
method = "dhondt"
threshold = 5.0
threshold_base = "cast"
minority_exempt = true
minority_coefficient = 1.35

[[party]]
id = "a"
[[party]]
id = "b"
[[party]]
id = "c"
[[party]]
id = "d"
[[party]]
id = "m"
minority = true
[[party]]
id = "e"

[[poll]]
sample_size = 700
[poll.shares]
a = 41
b = 22
c = 17
d = 8
m = 3
e = 9

[[coalition]]
name = "BC"
members = ["b", "c"]

[[coalition]]
name = "BCD"
members = ["b", "c", "d"]

[model]
invalid_share = 2.0

[simulation]
runs = 600
seed = 11
chunk_size = 300
"""

SCENARIOS = """
[[scenario]]
name = "same rules"

[[scenario]]
name = "7 % threshold"
election.threshold = 7.0

[[scenario]]
name = "Sainte-Lague, no minority bonus"
election.method = "sainte-lague"
election.minority_coefficient = 1.0

[[scenario]]
name = "c and d together"
merge = { cd = ["c", "d"] }

[[scenario]]
name = "b and m together, 50 seats"
election.seats = 50
merge = { b = ["b", "m"] }
party.a.threshold = 45.0
"""


@pytest.fixture
def small(write_config):
    return load_config(write_config(SMALL + SCENARIOS))


def _json(result) -> dict:
    doc = result.to_json()
    return {k: doc[k] for k in ("parties", "coalitions", "districts") if k in doc}


def test_a_scenario_with_the_baselines_rules_is_simulate_bit_for_bit():
    e = load_config(BELGRADE)
    sw = sweep(e, [Scenario("same", {}), Scenario("5 %", {"election": {"threshold": 5.0}})],
               runs=40_000, seed=3)
    plain = _json(simulate(e, runs=40_000, seed=3))
    assert _json(sw.baseline) == plain
    assert _json(sw.scenarios["same"]) == plain
    for table in ("parties", "coalitions"):
        for d in sw.differences["same"][table].values():
            assert d == {"p_majority": 0.0, "p_majority_se": 0.0, "mean_seats": 0.0, "mean_seats_se": 0.0}
    assert _json(sw.scenarios["5 %"]) != plain  # and a change of the rules does change something


def _reference_seats(variant, shares):
    """Seats of every run (rows of ``shares``, the baseline's lists) under a variant's rules, in
    plain Python: the merged lists' shares summed, the reference allocation."""
    e = variant.election
    r = e.rules
    base = threshold_base(e)
    out = []
    for row in shares:
        votes = [0.0] * len(variant.slot)
        for i, k in enumerate(variant.slot):
            votes[k] += row[i]
        votes = [votes[k] for k in variant.owner]
        out.append(allocate_reference(
            votes, r.seats, r.method, [r.threshold if p.threshold is None else p.threshold for p in e.parties],
            base, [p.minority for p in e.parties], r.minority_exempt, r.coefficient_fraction))
    return np.array(out)


def test_every_scenarios_seats_and_paired_differences_equal_plain_python_on_the_same_draws(small):
    sw = sweep(small)
    _, votes, seats = Engine(small).run_chunks(small.simulation.seed, 0, np.array([300, 300]), record=True)
    shares = np.concatenate([votes[0], votes[1]])
    base_seats = np.concatenate([seats[0], seats[1]])
    n = len(shares)
    from simulator.scenarios import variants_of

    for variant in variants_of(small)[1:]:
        e = variant.election
        ref = _reference_seats(variant, shares)
        result = sw.scenarios[variant.name]
        diff = sw.differences[variant.name]
        for j, pid in enumerate(e.party_ids):
            members = [i for i, k in enumerate(variant.slot) if k == variant.owner[j]]
            before = base_seats[:, members].sum(axis=1)
            d = ref[:, j] - before
            assert result.parties[pid].mean_seats == pytest.approx(ref[:, j].mean(), abs=1e-12)
            assert result.parties[pid].p_majority == pytest.approx((ref[:, j] >= e.rules.majority).mean())
            assert diff["parties"][pid]["mean_seats"] == pytest.approx(d.mean(), abs=1e-12)
            assert diff["parties"][pid]["mean_seats_se"] == pytest.approx(d.std(ddof=1) / math.sqrt(n), abs=1e-12)
            m = (ref[:, j] >= e.rules.majority).astype(int) - (before >= small.rules.majority).astype(int)
            assert diff["parties"][pid]["p_majority"] == pytest.approx(m.mean(), abs=1e-12)
        for coalition, base_coalition in zip(e.coalitions, small.coalitions):
            cols = [e.party_ids.index(m) for m in coalition.members]
            base_cols = [small.party_ids.index(m) for m in base_coalition.members]
            d = ref[:, cols].sum(axis=1) - base_seats[:, base_cols].sum(axis=1)
            assert diff["coalitions"][coalition.name]["mean_seats"] == pytest.approx(d.mean(), abs=1e-12)
    # and the differences are not all zero: the scenarios do change seats
    assert sw.differences["c and d together"]["parties"]["cd"]["mean_seats"] > 0


def test_a_merge_sums_the_lists_votes_and_follows_them_into_coalitions(small):
    v = variant_of(small, Scenario("m", {"merge": {"cd": ["c", "d"]}}))
    assert v.election.party_ids == ("a", "b", "cd", "m", "e")
    assert list(v.slot) == [0, 1, 2, 2, 4, 5] and v.owner == [0, 1, 2, 4, 5]
    assert [c.members for c in v.election.coalitions] == [("b", "cd"), ("b", "cd")]
    # the merged list keeps the first member's id when it is named so, and is no minority list
    w = variant_of(small, Scenario("w", {"merge": {"m": ["m", "e"]}}))
    assert "m" in w.election.party_ids and not w.election.parties[w.election.party_ids.index("m")].minority
    # merged in the polls too: the variant's own forecast would see the summed shares
    assert v.election.polls[0].shares["cd"] == pytest.approx(25.0)
    # two merges in one scenario
    two = variant_of(small, Scenario("two", {"merge": {"x": ["a", "b"], "y": ["c", "d", "e"]}}))
    assert two.election.party_ids == ("x", "y", "m") and list(two.slot) == [0, 0, 2, 2, 4, 2]


def test_every_variant_on_every_draw_gives_the_same_results_on_any_thread_count(small):
    import numba

    from simulator.engine import use_threads

    one = (use_threads(1), sweep(small).to_json())[1]
    every = (use_threads(numba.config.NUMBA_NUM_THREADS), sweep(small).to_json())[1]
    assert one["baseline"].pop("settings")["threads"] == 1  # the one thing that differs
    every["baseline"].pop("settings")
    assert one == every


@pytest.mark.parametrize("table, problem", [
    ('model.polling_error = 0', "change of the vote model"),
    ('[[scenario.poll]]\nsample_size = 10\nshares = {a = 1}', "change of the vote model"),
    ('simulation.runs = 10', "change of the vote model"),
    ('coalition = []', "change of the vote model"),
    ('result.votes = {a = 1}', "change of the vote model"),
])
def test_a_scenario_that_changes_the_vote_model_is_refused(write_config, table, problem):
    text = SMALL + f'\n[[scenario]]\nname = "polls"\n{table}\n'
    with pytest.raises(ConfigError, match=problem) as exc:
        load_config(write_config(text))
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("overrides, key", [
    ({"election": {"name": "x"}}, "election.name"),
    ({"party": {"zz": {"threshold": 1.0}}}, "party.zz"),
    ({"party": {"a": {"name": "A"}}}, "party.a.name"),
    ({"merge": {"x": ["a"]}}, "merge.x"),
    ({"merge": {"x": ["a", "zz"]}}, "merge.x"),
    ({"merge": {"b": ["a", "c"]}}, "merge.b"),
    ({"merge": {"x": "a"}}, "merge.x"),
    ({"election": {"threshold": -1.0}}, "election.threshold"),
    ({"election": {"method": "borda"}}, "election.method"),
    ({"election": {"majority": 400}}, "election.majority"),
    ({"district": {"x": {"seats": 3}}}, "district.x"),
])
def test_a_scenarios_bad_override_is_one_line_naming_the_scenario_and_key(small, overrides, key):
    with pytest.raises(ConfigError) as exc:
        variant_of(small, Scenario("bad", overrides))
    text = str(exc.value)
    assert "scenario 'bad'" in text and key in text and "\n" not in text


@pytest.mark.parametrize("table, key", [
    ('[[scenario]]\nelection.threshold = 3.0', "name"),
    ('[[scenario]]\nname = "baseline"', "name"),
    ('[[scenario]]\nname = "x"\n[[scenario]]\nname = "x"', "name"),
    ('[[scenario]]\nname = "x"\nmerge = 3', "merge"),
    ('[[scenario]]\nname = "x"\nseats = 3', "seats"),
])
def test_scenario_tables_are_checked_when_the_config_loads(write_config, table, key):
    with pytest.raises(ConfigError) as exc:
        load_config(write_config(SMALL + "\n" + table + "\n"))
    assert key in str(exc.value) and "\n" not in str(exc.value)


def test_set_options_make_a_grid_of_scenarios():
    grid = grid_scenarios(["election.threshold=3,5", "election.method=dhondt,sainte-lague"])
    assert [s.name for s in grid] == [
        "election.threshold=3, election.method=dhondt", "election.threshold=3, election.method=sainte-lague",
        "election.threshold=5, election.method=dhondt", "election.threshold=5, election.method=sainte-lague"]
    assert grid[3].overrides == {"election": {"threshold": 5, "method": "sainte-lague"}}
    assert grid_scenarios(["party.ru.minority=false"])[0].overrides == {"party": {"ru": {"minority": False}}}
    for bad in ("threshold=3", "election.threshold", "election.threshold=", "party.ru=1", "model.x=1"):
        with pytest.raises(InputError):
            grid_scenarios([bad])


def test_paired_difference_is_the_mean_and_standard_error_of_the_differences():
    d = np.array([1, 0, 2, 0, 0, -1, 3, 0])
    mean, se = paired_difference(float(d.sum()), float((d * d).sum()), len(d))
    assert mean == pytest.approx(d.mean()) and se == pytest.approx(d.std(ddof=1) / math.sqrt(len(d)))


def test_districts_a_scenario_of_magnitudes_on_the_same_draws():
    e = load_config(ROOT / "configs" / "poland-2019.toml")
    first = e.districts[0]
    sw = sweep(e, [Scenario("same", {}), Scenario("bigger", {"district": {first.id: {"seats": first.seats + 4}}}),
                   Scenario("together", {"merge": {"opp": ["ko", "l"]}})], runs=3_000, seed=5)
    plain = _json(simulate(e, runs=3_000, seed=5))
    assert _json(sw.baseline) == plain and _json(sw.scenarios["same"]) == plain
    bigger = sw.scenarios["bigger"]
    assert bigger.seats == e.rules.seats + 4 and bigger.majority == (e.rules.seats + 4) // 2 + 1
    assert sum(p.mean_seats for p in bigger.parties.values()) == pytest.approx(e.rules.seats + 4)
    assert sum(x.mean_seats for x in bigger.districts[first.id].values()) == pytest.approx(first.seats + 4)
    other = e.districts[1].id
    assert bigger.districts[other] == sw.baseline.districts[other]  # the other districts: as they were
    d = sw.differences["bigger"]["parties"]
    assert sum(x["mean_seats"] for x in d.values()) == pytest.approx(4.0)
    together = sw.scenarios["together"]
    assert "opp" in together.parties and sum(p.mean_seats for p in together.parties.values()) == pytest.approx(e.rules.seats)


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "simulator", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def test_sweep_command_writes_the_json_and_csv_contract(write_config, tmp_path):
    path = write_config(SMALL + SCENARIOS)
    out, table = tmp_path / "sweep.json", tmp_path / "sweep.csv"
    p = _run("sweep", path, "--set", "election.threshold=3,4", "--runs", "2e3", "--seed", "4",
             "--json", out, "--csv", table)
    assert p.returncode == 0, p.stderr
    assert "7 % threshold" in p.stdout and "election.threshold=4" in p.stdout
    doc = json.loads(out.read_text())
    assert set(doc) == {"baseline", "scenarios"}
    assert doc["baseline"]["runs"] == 2000 and set(doc["baseline"]["parties"]) == {"a", "b", "c", "d", "m", "e"}
    assert len(doc["scenarios"]) == 7
    s = doc["scenarios"]["c and d together"]
    assert {"parties", "coalitions", "difference"} <= set(s)
    assert set(s["parties"]) == {"a", "b", "cd", "m", "e"}
    for table_name in ("parties", "coalitions"):
        for row in s["difference"][table_name].values():
            assert set(row) == {"p_majority", "p_majority_se", "mean_seats", "mean_seats_se"}
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert len(rows) == sum(len(v["parties"]) + len(v["coalitions"]) for v in doc["scenarios"].values())
    row = next(r for r in rows if r["scenario"] == "c and d together" and r["id"] == "cd")
    assert float(row["mean_seats_difference"]) == pytest.approx(s["difference"]["parties"]["cd"]["mean_seats"])
    assert float(row["mean_seats"]) - float(row["mean_seats_baseline"]) == pytest.approx(
        float(row["mean_seats_difference"]))


@pytest.mark.parametrize("extra, text", [
    ([], "no scenarios"),
    (["--set", "election.threshold"], "--set"),
    (["--set", "election.colour=1,2"], "election.colour"),
    (["--set", "party.zz.threshold=1,2"], "party.zz"),
    (["--runs", "0"], "runs"),
])
def test_sweep_command_errors_are_one_line_and_exit_2(write_config, extra, text):
    path = write_config(SMALL)
    p = _run("sweep", path, *extra)
    assert p.returncode == 2
    assert text in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_report_has_a_scenarios_section_table_and_chart(write_config, tmp_path):
    from simulator.report import make_report, render_report

    e = load_config(write_config(SMALL + SCENARIOS))
    files = render_report(make_report(e, runs=2_000, seed=2), ("md", "csv", "json", "png"))
    assert "## Scenarios" in files["report.md"] and "c and d together" in files["report.md"]
    assert files["scenarios.png"].startswith(b"\x89PNG")
    assert "cd" in files["scenarios.csv"]
    doc = json.loads(files["report.json"])
    assert set(doc["scenarios"]) == {"same rules", "7 % threshold", "Sainte-Lague, no minority bonus",
                                     "c and d together", "b and m together, 50 seats"}
    # the report's scenarios are a sweep of the same seed and runs: the baseline is the report's
    assert doc["scenarios"]["same rules"]["parties"]["a"]["mean_seats"] == doc["parties"]["a"]["mean_seats"]


def test_first_sweep_says_it_is_compiling_and_help_names_the_tables(write_config, monkeypatch):
    from typer.testing import CliRunner

    import simulator.engine as engine
    from simulator.cli import app

    runner = CliRunner()
    path = str(write_config(SMALL + SCENARIOS))
    monkeypatch.setattr(engine, "compiled", lambda kernel=None: kernel is None)
    result = runner.invoke(app, ["sweep", path, "--runs", "500"])
    assert result.exit_code == 0 and "compiling the sweep kernels (first sweep only" in result.stderr
    assert "compiling the simulation kernels" not in result.stderr
    monkeypatch.setattr(engine, "compiled", lambda kernel=None: True)
    assert "compiling" not in runner.invoke(app, ["sweep", path, "--runs", "500"]).stderr
    text = runner.invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"}).output
    assert "[[scenario]] tables" in text and "--set" in text


def test_a_difference_is_shown_to_its_standard_errors_precision():
    from simulator.report import format_difference

    assert format_difference(0.71, 0.0013) == "+0.7100 ± 0.0013"
    assert format_difference(0.0385, 0.0002, 100.0) == "+3.850 ± 0.020"
    assert format_difference(-0.26, 0.044) == "-0.260 ± 0.044"
    assert format_difference(0.0, 0.0) == "0"
