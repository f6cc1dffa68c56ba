"""`electsim bench` on a tiny size: the JSON has its keys and every implementation matched."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from simulator.cli import app

from .conftest import BELGRADE

runner = CliRunner()


def test_bench_tiny_json_keys_and_all_matched(tmp_path):
    out = tmp_path / "bench.json"
    plot = tmp_path / "scaling.png"
    result = runner.invoke(app, ["bench", "--lists", "6", "--seats", "20", "--runs", "3000", "--repeats", "1",
                                 "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert {"cpu", "cores", "numba", "numpy"} <= set(doc["machine"])
    assert doc["lists"] == 6 and doc["seats"] == 20 and doc["threads"] >= 1
    impls = doc["implementations"]
    assert {"kernel", "seat-by-seat (numba)", "numpy (vectorised)", "python reference"} <= set(impls)
    for name, row in impls.items():
        assert row["allocations_per_s"] > 0, name
        assert row["matched_reference"] is True, name
    assert not plot.exists()


def test_bench_pipeline_and_scaling_plot(tmp_path, monkeypatch):
    import simulator.bench as bench

    # keep the sweeps tiny: the test checks wiring, not speed
    real_scaling, real_pipeline, real_error = bench.bench_scaling, bench.bench_pipeline, bench.bench_error_model
    monkeypatch.setattr(bench, "bench_scaling", lambda method="dhondt": real_scaling(
        runs_grid=(1000, 2000), lists_grid=(2, 5), seats_grid=(10, 20), runs=2000, method=method))
    monkeypatch.setattr(bench, "bench_pipeline", lambda e, threads=None: real_pipeline(
        e, runs=20_000, numpy_runs=2000, repeats=1, threads=threads))
    monkeypatch.setattr(bench, "bench_error_model", lambda e, threads=None: real_error(
        e, runs=5000, rounds=1, threads=threads))
    out = tmp_path / "b.json"
    plot = tmp_path / "s.png"
    result = runner.invoke(app, ["bench", "--preset", "belgrade", "--runs", "2000", "--repeats", "1",
                                 "--pipeline", str(BELGRADE), "--json", str(out), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["pipeline"]["implementations"]["engine"]["runs_per_s"] > 0
    assert doc["pipeline"]["implementations"]["numpy"]["runs_per_s"] > 0
    assert [r["runs"] for r in doc["scaling"]["runs"]] == [1000, 2000]
    variants = doc["error_model"]["variants"]
    assert set(variants) == {"as configured", "polling_error = 0", "before the layers"}
    assert variants["before the layers"]["ratio_to_before"] == 1.0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_bad_options_exit_2():
    assert runner.invoke(app, ["bench", "--preset", "mars"]).exit_code == 2
    assert runner.invoke(app, ["bench", "--lists", "5"]).exit_code == 2
    assert runner.invoke(app, ["bench", "--lists", "1", "--seats", "5"]).exit_code == 2
    assert runner.invoke(app, ["bench", "--method", "webster"]).exit_code == 2


def test_bench_sweep_analysis_and_paired_precision_on_a_tiny_run():
    """The functions behind `electsim bench --sweep`, on few runs: their keys, and the paired
    estimator's spread below that of two independent runs (Belgrade, threshold 3 -> 5 %)."""
    from simulator.bench import bench_analysis, bench_sweep, paired_precision, sweep_variants
    from simulator.config import load_config

    e = load_config(BELGRADE)
    variants = sweep_variants(e)
    assert [v.name for v in variants] == ["threshold + 2", "sainte-lague", "no minority rules", "10 more seats"]
    assert variants[0].overrides == {"election": {"threshold": 5.0}}
    sw = bench_sweep(e, runs=20_000, rounds=1)
    # speeds and their ratios are checked by the benchmarks (benchmarks/run_benchmarks.py), not here
    assert sw["ratio"] > 0 and sw["sweep_runs_per_s"] > 0
    an = bench_analysis(e, runs=20_000, rounds=1)
    assert set(an["runs_per_s"]) == {"plain", "analysis without power", "analysis"}
    assert an["analysis_ratio"] > 0 and all(v > 0 for v in an["runs_per_s"].values())
    pp = paired_precision(e, variants[0], runs=5_000, repeats=6)
    assert pp["party"] == "bt" and pp["mean_seats"]["independent_over_paired"] > 1.5
