"""electsim calibrate: past elections scored against their results, and the fit (small and fast
here: three elections of configs/history, a few hundred runs each; the full backtest's figures are
in docs/calibration and the README)."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

import simulator.calibration as calibration
from simulator.cli import app
from simulator.config import load_config

from .conftest import ROOT

runner = CliRunner()
HISTORY = ROOT / "configs" / "history"
THREE = [HISTORY / f for f in ("austria-2019.toml", "netherlands-2021.toml", "slovakia-2020.toml")]


def test_history_has_at_least_12_elections_up_to_2021_each_with_two_final_polls():
    import datetime as dt

    files = sorted(HISTORY.glob("*.toml"))
    assert len(files) >= 12
    for f in files:
        e = load_config(f)
        assert e.date.year <= 2021 and e.result is not None, f.name
        final = [p for p in e.polls if 0 < (e.date - p.date).days <= 21]
        assert len(final) >= 2 and all(p.sample_size > 0 and p.firm for p in final), f.name
        assert all(p.date < e.date for p in e.polls), f.name
        text = f.read_text(encoding="utf-8")
        assert "# Polls:" in text and "# Result:" in text, f.name  # sources named
        assert e.date - max(p.date for p in e.polls) < dt.timedelta(days=21), f.name


def test_calibrate_scores_both_models_and_the_errors_widen_the_intervals(tmp_path):
    out = tmp_path / "cal"
    result = runner.invoke(app, ["calibrate", *map(str, THREE), "--runs", "400", "--json",
                                 str(tmp_path / "c.json"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "c.json").read_text())
    sampling, calibrated = doc["models"]["sampling"], doc["models"]["calibrated"]
    assert sampling["lists"] == calibrated["lists"] == len(doc["lists"]) // 2 > 20
    assert sampling["share_coverage"]["90"] < calibrated["share_coverage"]["90"]
    assert calibrated["crps"] < sampling["crps"]
    for model in (sampling, calibrated):
        assert sum(model["pit_histogram"]) == model["lists"]
        assert set(model["brier"]) == {"majority", "first", "threshold"}
    assert {p.name for p in out.iterdir()} == {"calibration.md", "calibration.csv", "calibration.json",
                                               "calibration.png", "calibration.svg"}
    assert "sampling error only" in result.stdout and "90 % share intervals" in result.stdout


def test_fit_leaves_each_election_out_and_writes_a_fit_file_a_config_can_use(tmp_path):
    from importlib import resources

    shipped = resources.files("simulator").joinpath("data/polling_error.json").read_bytes()
    result = runner.invoke(app, ["calibrate", *map(str, THREE), "--fit", "--runs", "3e2",
                                 "--out", str(tmp_path / "cal")])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "cal" / "polling_error.json").read_text())
    assert written["df"] in [("normal" if math.isinf(d) else d) for d in calibration.DF_GRID]
    assert 0.01 < written["scale"] < 1.0 and written["house_effects"] is True
    assert len(written["fitted_on"]) == 3
    assert "fitted: scale" in result.stderr
    # the package's own default is left as it was
    assert resources.files("simulator").joinpath("data/polling_error.json").read_bytes() == shipped
    # and a config reads the fit from its path (relative to the config's folder)
    text = THREE[0].read_text(encoding="utf-8") + '\n[model]\npolling_error = "cal/polling_error.json"\n'
    assert "[model]" not in THREE[0].read_text(encoding="utf-8")
    (tmp_path / "e.toml").write_text(text, encoding="utf-8")
    model = load_config(tmp_path / "e.toml").model
    assert model.error_scale == written["scale"]
    assert model.error_size_exponent == written["size_exponent"]
    assert model.error_drift == written["drift"]


def test_fit_goes_to_the_working_directory_or_to_fit_file(tmp_path, monkeypatch):
    monkeypatch.setattr(calibration, "fit", lambda *a, **k: (_ for _ in ()).throw(AssertionError("no fit")))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "polling_error.json").mkdir()  # the default place cannot be written: said up front
    result = runner.invoke(app, ["calibrate", *map(str, THREE), "--fit", "--runs", "300"])
    assert result.exit_code == 2 and "polling_error.json: is a directory" in result.stderr
    result = runner.invoke(app, ["calibrate", str(THREE[0]), "--fit-file", "f.json"])
    assert result.exit_code == 2 and "--fit-file needs --fit" in result.stderr


@pytest.mark.parametrize("doc, problem", [
    (None, "no such file"),
    ("not json", "is not JSON"),
    ({"scale": 0.1}, "must hold"),
    ({"scale": -1, "df": 5, "size_exponent": 0.5, "drift": 0, "house_effects": True,
      "window_days": 21, "design_effect": "estimate"}, "scale"),
    ({"scale": 0.1, "df": "fat", "size_exponent": 0.5, "drift": 0, "house_effects": True,
      "window_days": 21, "design_effect": "estimate"}, "df"),
])
def test_a_bad_fit_file_is_one_line_naming_the_key(write_config, tmp_path, doc, problem):
    if doc is not None:
        (tmp_path / "fit.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    cfg = write_config('[election]\nseats = 3\n[[party]]\nid = "a"\n[[party]]\nid = "b"\n'
                       '[[poll]]\ndate = 2020-01-01\nsample_size = 500\nshares = { a = 60, b = 40 }\n'
                       '[model]\npolling_error = "fit.json"\n')
    result = runner.invoke(app, ["simulate", str(cfg), "--runs", "100"])
    assert result.exit_code == 2, result.output
    assert "model.polling_error" in result.stderr and problem in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, problem", [(["--seed", "-1"], "seed must be non-negative"),
                                           (["--runs", "1.5e3"], None)])
def test_calibrate_options_follow_simulates_rules(monkeypatch, args, problem):
    seen = {}
    monkeypatch.setattr(calibration, "calibrate", lambda paths, **kw: seen.update(kw) or 1 / 0)
    result = runner.invoke(app, ["calibrate", str(THREE[0]), *args])
    if problem:
        assert result.exit_code == 2 and problem in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not seen
    else:
        assert seen["runs"] == 1500  # 1.5e3 read as simulate reads --runs


def test_fold_parameters_are_fitted_without_their_election():
    elections = calibration.load_history(THREE)
    fit = calibration.fit(elections)
    assert set(fit.folds) == {e.name for e in elections}
    assert len({(p.scale, p.size_exponent) for p in fit.folds.values()}) == 3  # three different fits


def test_calibrate_needs_results_and_polls(write_config):
    cfg = write_config('[election]\nseats = 3\ndate = 2020-01-01\n[[party]]\nid = "a"\n')
    result = runner.invoke(app, ["calibrate", str(cfg)])
    assert result.exit_code == 2 and "calibration needs" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("runs", ["10", "2000000"])
def test_calibrate_runs_are_bounded(runs):
    result = runner.invoke(app, ["calibrate", str(THREE[0]), "--runs", runs])
    assert result.exit_code == 2 and "calibration runs" in result.stderr
