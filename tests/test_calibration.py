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


def test_fit_leaves_each_election_out_and_writes_the_shipped_file(monkeypatch, tmp_path):
    written = {}
    monkeypatch.setattr(calibration, "write_shipped",
                        lambda doc: written.update(doc) or tmp_path / "polling_error.json")
    result = runner.invoke(app, ["calibrate", *map(str, THREE), "--fit", "--runs", "300"])
    assert result.exit_code == 0, result.output
    assert written["df"] in [("normal" if math.isinf(d) else d) for d in calibration.DF_GRID]
    assert 0.01 < written["scale"] < 1.0 and written["house_effects"] is True
    assert len(written["fitted_on"]) == 3
    assert "fitted: scale" in result.stderr


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
