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
