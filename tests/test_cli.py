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


def test_simulate_more_runs_than_the_tally_holds_is_exit_2(write_config):
    result = runner.invoke(app, ["simulate", str(write_config(SIM)), "--runs", str(2**39 + 1)])
    assert result.exit_code == 2 and "runs must be between 1 and 549,755,813,888" in result.stderr


def test_simulate_bad_poll_is_exit_2(write_config):
    result = runner.invoke(app, ["simulate", str(write_config(SIM.replace("b = 45", "c = 45")))])
    assert result.exit_code == 2 and "poll 1.shares.c" in result.stderr


def test_help_shows_config_table_names():
    """Table names in option help ([[poll]], [simulation], [result]) are printed, not eaten as
    rich markup tags."""
    wide = {"COLUMNS": "200"}
    text = runner.invoke(app, ["simulate", "--help"], env=wide).output
    assert "[[poll]] tables" in text and "[simulation] runs" in text and "[simulation] seed" in text
    assert "[result] table" in runner.invoke(app, ["allocate", "--help"], env=wide).output
