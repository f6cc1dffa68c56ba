"""CLI wiring: commands call the library, print what they promise, and map mistakes to exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from simulator.cli import app

from .conftest import BELGRADE, ROOT

runner = CliRunner()


def test_allocate_json_has_every_party_and_official_seats():
    result = runner.invoke(app, ["allocate", str(BELGRADE), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc["seats"]) == 14
    assert doc["seats"]["bt"] == 64 and doc["seats"]["ru"] == 1 and doc["seats"]["urs"] == 0
    assert sum(doc["seats"].values()) == 110


def test_allocate_table_lists_parties():
    result = runner.invoke(app, ["allocate", str(BELGRADE)], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert "Belgrade Tomorrow" in result.stdout and "64" in result.stdout


def test_missing_config_is_one_line_and_exit_2(tmp_path):
    result = runner.invoke(app, ["allocate", str(tmp_path / "none.toml")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no such file" in lines[0] and "none.toml" in lines[0]


def test_config_error_is_one_line_and_exit_2(write_config):
    path = write_config('[election]\nseats = 0\n[[party]]\nid = "a"\n')
    result = runner.invoke(app, ["allocate", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "election.seats" in lines[0] and "Traceback" not in result.output


def test_allocate_without_result_table_is_exit_2(write_config):
    path = write_config('[election]\nseats = 3\n[[party]]\nid = "a"\n')
    result = runner.invoke(app, ["allocate", str(path)])
    assert result.exit_code == 2 and "[result]" in result.stderr


def test_python_dash_m_simulator_works():
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "allocate", str(BELGRADE), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["seats"]["kp"] == 21


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "allocate" in result.stdout


SIM = """
[election]
seats = 9
[[party]]
id = "a"
[[party]]
id = "b"
[[poll]]
sample_size = 500
[poll.shares]
a = 55
b = 45
[simulation]
runs = 5000
seed = 1
[[coalition]]
name = "all"
members = ["a", "b"]
"""


def test_simulate_writes_json_csv_markdown(write_config, tmp_path):
    import csv

    cfg = write_config(SIM)
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["simulate", str(cfg), "--runs", "3000", "--seed", "5", "--json", str(out),
                                 "--csv", str(tmp_path / "r.csv"), "--markdown", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["runs"] == 3000 and doc["seed"] == 5
    a = doc["parties"]["a"]
    for key in ("mean_seats", "p_majority", "p_majority_se", "p_threshold", "seats_p05", "seats_p50",
                "seats_p95", "seat_probabilities"):
        assert key in a
    assert len(a["seat_probabilities"]) == 10 and abs(sum(a["seat_probabilities"]) - 1) < 1e-9
    assert doc["coalitions"]["all"]["members"] == ["a", "b"] and doc["coalitions"]["all"]["p_majority"] == 1.0
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["id"] for r in rows] == ["a", "b"]
    assert float(rows[0]["p_majority"]) == a["p_majority"]
    assert "| a |" in (tmp_path / "r.md").read_text()


def test_simulate_unwritable_output_is_exit_2_and_writes_nothing(write_config, tmp_path):
    cfg = write_config(SIM)
    result = runner.invoke(app, ["simulate", str(cfg), "--json", str(tmp_path / "missing" / "r.json")])
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert not (tmp_path / "missing").exists()


def test_simulate_bad_runs_is_exit_2(write_config):
    result = runner.invoke(app, ["simulate", str(write_config(SIM)), "--runs", "0"])
    assert result.exit_code == 2 and "runs" in result.stderr
    assert result.stderr.startswith("electsim: error:")  # no empty line (a progress bar) first
    assert len(result.stderr.strip().splitlines()) == 1


def test_runs_can_be_written_as_people_write_them(write_config):
    cfg = str(write_config(SIM))
    for text in ("2e3", "2_000", "2,000", "2000"):
        result = runner.invoke(app, ["simulate", cfg, "--runs", text])
        assert result.exit_code == 0, result.output
        assert "2,000 simulated elections" in result.stdout
    result = runner.invoke(app, ["simulate", cfg, "--runs", "1.5e3x"])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_too_many_threads_says_how_many_cores_there_are(write_config):
    import numba

    result = runner.invoke(app, ["simulate", str(write_config(SIM)), "--threads", "999"])
    cores = numba.config.NUMBA_NUM_THREADS
    assert result.exit_code == 2 and f"this machine has {cores} core" in result.stderr


def test_likely_mistakes_are_printed_as_warnings(write_config):
    cfg = write_config(SIM.replace("seats = 9", "seats = 9\nthreshold = 0.05"))
    result = runner.invoke(app, ["simulate", str(cfg), "--runs", "500"])
    assert result.exit_code == 0
    assert "electsim: warning:" in result.stderr and "election.threshold = 0.05" in result.stderr


def test_output_files_get_the_mode_open_gives_them(write_config, tmp_path):
    import os
    import stat

    cfg = write_config(SIM)
    old = os.umask(0o022)
    try:
        result = runner.invoke(app, ["simulate", str(cfg), "--runs", "500", "--json", str(tmp_path / "r.json"),
                                     "--csv", str(tmp_path / "r.csv")])
        assert result.exit_code == 0
        for name in ("r.json", "r.csv"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
        os.umask(0o027)
        (tmp_path / "r.csv").unlink()
        runner.invoke(app, ["simulate", str(cfg), "--runs", "500", "--csv", str(tmp_path / "r.csv")])
        assert stat.S_IMODE((tmp_path / "r.csv").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_piped_output_is_not_cut_to_80_columns():
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", "simulate", str(BELGRADE), "--runs", "2000"],
        capture_output=True, text=True, cwd=ROOT, timeout=600, env={**__import__("os").environ, "COLUMNS": ""},
    )
    assert proc.returncode == 0, proc.stderr
    assert "P(threshold)" in proc.stdout and "Kreni-Promeni" in proc.stdout
    assert "…" not in proc.stdout


def test_draws_file_has_every_run_and_equals_the_engine(write_config, tmp_path):
    import numpy as np

    cfg = write_config(SIM)
    path = tmp_path / "draws.npz"
    result = runner.invoke(app, ["simulate", str(cfg), "--runs", "2500", "--seed", "4", "--draws", str(path)])
    assert result.exit_code == 0, result.output
    assert "MB of draws (2,500 runs x 2 lists)" in result.stderr
    with np.load(path) as d:
        shares, seats, parties = d["shares"], d["seats"], d["parties"]
    assert shares.shape == seats.shape == (2500, 2) and shares.dtype == np.float32 and seats.dtype == np.int16
    assert list(parties) == ["a", "b"] and np.all(seats.sum(axis=1) == 9)
    from simulator.config import load_config
    from simulator.engine import Engine

    _, votes, rec = Engine(load_config(cfg)).run_chunks(4, 0, np.array([2500]), record=True)
    np.testing.assert_array_equal(seats, rec[0])
    np.testing.assert_array_equal(shares, votes[0].astype(np.float32))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_simulate_more_runs_than_the_tally_holds_is_exit_2(write_config):
    result = runner.invoke(app, ["simulate", str(write_config(SIM)), "--runs", str(2**39 + 1)])
    assert result.exit_code == 2 and "runs must be between 1 and 549,755,813,888" in result.stderr


def test_simulate_bad_poll_is_exit_2(write_config):
    result = runner.invoke(app, ["simulate", str(write_config(SIM.replace("b = 45", "c = 45")))])
    assert result.exit_code == 2 and "poll 1.shares.c" in result.stderr


def test_report_json_reruns_to_the_same_numbers(write_config, tmp_path):
    """settings.config of a report holds the whole effective config: simulate reads it back."""
    cfg = write_config(SIM)
    out = tmp_path / "rep"
    assert runner.invoke(app, ["report", str(cfg), "--runs", "4000", "--out", str(out), "-f", "json"]).exit_code == 0
    rerun = tmp_path / "rerun.json"
    result = runner.invoke(app, ["simulate", str(out / "report.json"), "--json", str(rerun), "--analysis"])
    assert result.exit_code == 0, result.output
    a, b = json.loads((out / "report.json").read_text()), json.loads(rerun.read_text())
    assert a["runs"] == b["runs"] == 4000 and a["seed"] == b["seed"]
    assert a["parties"] == b["parties"]
    ma, mb = dict(a["settings"]["model"]), dict(b["settings"]["model"])
    assert ma.pop("polling_error") == "calibrated" and mb.pop("polling_error") == ma["error_scale"]
    assert ma == mb and ma["error_scale"] > 0 and a["settings"]["version"]
    assert [p["sample_size"] for p in a["settings"]["polls"]] == [500]


def test_help_shows_config_table_names():
    """Table names in option help ([[poll]], [simulation], [result]) are printed, not eaten as
    rich markup tags."""
    wide = {"COLUMNS": "200"}
    text = runner.invoke(app, ["simulate", "--help"], env=wide).output
    assert "[[poll]] tables" in text and "[simulation] runs" in text and "[simulation] seed" in text
    assert "[result] table" in runner.invoke(app, ["allocate", "--help"], env=wide).output


def test_first_run_says_it_is_compiling(write_config, monkeypatch):
    import simulator.engine as engine

    monkeypatch.setattr(engine, "compiled", lambda: False)
    result = runner.invoke(app, ["simulate", str(write_config(SIM)), "--runs", "500"])
    assert result.exit_code == 0 and "compiling the simulation kernels (first run only" in result.stderr
    monkeypatch.setattr(engine, "compiled", lambda: True)
    result = runner.invoke(app, ["simulate", str(write_config(SIM)), "--runs", "500"])
    assert "compiling" not in result.stderr
