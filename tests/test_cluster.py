"""Dask clusters over loopback (``--dask``): the same results bit for bit as a run here, with 1,
2 or 3 worker processes and with 2 threads in a worker; a worker killed mid-run; target standard
errors; sweeps and calibrations; an unreachable scheduler and a version mismatch as one-line
errors with exit code 2; and without ``--dask`` dask is not imported at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from simulator.calibration import calibrate
from simulator.cli import app
from simulator.cluster import Cluster, ClusterError, parse_address
from simulator.config import load_config
from simulator.engine import simulate
from simulator.errors import InputError
from simulator.scenarios import sweep

from .conftest import BELGRADE, ROOT

pytest.importorskip("distributed")  # installed by `make test` (the dask extra)

runner = CliRunner()


@pytest.fixture(scope="module")
def two():
    with Cluster("local:2") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def belgrade():
    return load_config(BELGRADE)


def _same(a, b) -> bool:
    """Equal results, bar the settings that say where they ran (threads, workers)."""
    a, b = a.to_json(), b.to_json()
    for doc in (a, b):
        _where(doc["settings"])
    return a == b


def _where(settings: dict) -> None:
    settings.pop("threads", None)
    settings.pop("dask_workers", None)


def test_addresses():
    assert parse_address("local:3") == ("local", 3)
    assert parse_address("local")[0] == "local"
    assert parse_address("tcp://10.0.0.1:8786") == ("remote", None)
    for bad in ("local:x", "local:0", " "):
        with pytest.raises(InputError):
            parse_address(bad)


def test_two_workers_give_the_local_result_bit_for_bit(two, belgrade):
    # chunks of 4,096 runs: 16 waves, so that the workers share them out of order
    here = simulate(belgrade, runs=2_000_000, seed=9, chunk_size=4096, analysis=True)
    there = simulate(belgrade, runs=2_000_000, seed=9, chunk_size=4096, analysis=True, cluster=two)
    assert there.to_json()["settings"]["dask_workers"] == 2 and there.to_json()["settings"]["threads"] == 2
    assert _same(here, there)
    assert there.runs == 2_000_000


@pytest.mark.parametrize("address", ["local:1", "local:3"])
def test_one_or_three_workers_give_the_local_result(address, belgrade):
    with Cluster(address) as cluster:
        assert cluster.threads == int(address[-1])
        there = simulate(belgrade, runs=400_000, seed=5, chunk_size=2048, cluster=cluster)
    assert _same(simulate(belgrade, runs=400_000, seed=5, chunk_size=2048), there)


def test_one_worker_with_two_threads_gives_the_same_result(belgrade):
    """A scheduler started apart (the tcp:// path), one worker process with 2 threads."""
    import distributed

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=":0") as lc:
        with Cluster(lc.scheduler_address) as one:
            assert one.threads == 2
            there = simulate(belgrade, runs=600_000, seed=4, chunk_size=4096, cluster=one)
    assert _same(simulate(belgrade, runs=600_000, seed=4, chunk_size=4096), there)


def test_target_se_stops_after_the_same_wave_and_cancels_the_rest(two, belgrade):
    here = simulate(belgrade, runs=5_000_000, seed=2, chunk_size=4096, target_se=0.002)
    there = simulate(belgrade, runs=5_000_000, seed=2, chunk_size=4096, target_se=0.002, cluster=two)
    assert here.runs < 5_000_000 and _same(here, there)


def test_a_worker_killed_mid_run_changes_nothing(belgrade):
    with Cluster("local:2") as cluster:
        pids = cluster.client.run(os.getpid)
        victim = sorted(pids.values())[0]
        killed_at = []

        def progress(done, total):
            if not killed_at:
                os.kill(victim, signal.SIGKILL)
                killed_at.append(done)

        there = simulate(belgrade, runs=3_000_000, seed=8, chunk_size=4096, cluster=cluster,
                         progress=progress)
        alive = set(cluster.client.run(os.getpid).values())
    assert killed_at and killed_at[0] < 3_000_000  # mid-run
    assert victim not in alive  # it did die (its nanny started another)
    assert _same(simulate(belgrade, runs=3_000_000, seed=8, chunk_size=4096), there)


def test_a_sweep_on_the_cluster_is_the_local_sweep(two, belgrade):
    here = sweep(belgrade, runs=300_000, seed=3, chunk_size=4096)
    there = sweep(belgrade, runs=300_000, seed=3, chunk_size=4096, cluster=two)
    a, b = here.to_json(), there.to_json()
    assert b["baseline"]["settings"]["dask_workers"] == 2
    _where(a["baseline"]["settings"])
    _where(b["baseline"]["settings"])
    assert a == b and len(a["scenarios"]) == 4


def test_a_calibration_on_the_cluster_is_the_local_one(two):
    paths = [ROOT / "configs" / "history" / f for f in ("estonia-2019.toml", "portugal-2019.toml",
                                                         "denmark-2019.toml")]
    here = calibrate(paths, do_fit=True, runs=500, seed=3)
    there = calibrate(paths, do_fit=True, runs=500, seed=3, cluster=two)
    assert json.dumps(here.to_json(), sort_keys=True) == json.dumps(there.to_json(), sort_keys=True)


def test_an_unreachable_scheduler_is_one_line_not_a_hang():
    import time

    start = time.perf_counter()
    with pytest.raises(ClusterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 2 s"):
        Cluster("tcp://127.0.0.1:1", timeout=2.0)
    assert time.perf_counter() - start < 20


def test_workers_that_do_not_finish_warming_are_one_line_not_a_hang(monkeypatch):
    import simulator.cluster as cluster_module

    monkeypatch.setattr(cluster_module, "WARM_TIMEOUT_S", 0.001)
    with pytest.raises(ClusterError, match="did not compile the kernels within"):
        Cluster("local:1")


def test_cli_unreachable_scheduler_exits_2(monkeypatch):
    import simulator.cluster

    monkeypatch.setattr(simulator.cluster, "CONNECT_TIMEOUT_S", 2.0)
    result = runner.invoke(app, ["simulate", str(BELGRADE), "--runs", "1000", "--dask", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("electsim: error: cannot reach the Dask scheduler") and len(lines) == 1


def test_cli_version_mismatch_exits_2(monkeypatch):
    import simulator

    monkeypatch.setattr(simulator, "__version__", "0.0.0-elsewhere")
    result = runner.invoke(app, ["simulate", str(BELGRADE), "--runs", "1000", "--dask", "local:1"])
    assert result.exit_code == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "runs different versions: electsim" in last and "client 0.0.0-elsewhere" in last


def test_cli_help_names_the_extra():
    for command in ("simulate", "report", "sweep", "calibrate", "bench"):
        text = " ".join(runner.invoke(app, [command, "--help"], terminal_width=200).output.split())
        assert "electsim[dask]" in text, command


@pytest.mark.parametrize("extra, text", [
    (["--dask", "local:2", "--threads", "1"], "--threads"),
    (["--dask", "local:2", "--draws", "x.npz"], "--draws"),
    (["--dask", "local:zero"], "local:N"),
])
def test_cli_dask_option_errors(extra, text, tmp_path):
    result = runner.invoke(app, ["simulate", str(BELGRADE), "--runs", "1000", *extra])
    assert result.exit_code == 2 and text in result.stderr


def test_cli_simulate_and_sweep_with_dask_write_the_local_json(tmp_path):
    for command in ("simulate", "sweep"):
        outs = []
        for extra in ([], ["--dask", "local:2"]):
            path = tmp_path / f"{command}{len(extra)}.json"
            result = runner.invoke(app, [command, str(BELGRADE), "--runs", "200000", "--seed", "6",
                                         "--json", str(path), *extra])
            assert result.exit_code == 0, result.stderr
            doc = json.loads(path.read_text())
            _where((doc.get("baseline") or doc)["settings"])
            outs.append(doc)
        assert outs[0] == outs[1]


def test_cli_report_and_calibrate_with_dask_write_the_local_json(tmp_path):
    history = [str(ROOT / "configs" / "history" / f) for f in ("estonia-2019.toml", "portugal-2019.toml")]
    commands = {
        "report": (["report", str(BELGRADE), "--runs", "50000", "--seed", "3", "--format", "json"],
                   "report.json"),
        "calibrate": (["calibrate", *history, "--runs", "500", "--seed", "2"], "calibration.json"),
    }
    for name, (args, filename) in commands.items():
        outs = []
        for extra in ([], ["--dask", "local:2"]):
            out = tmp_path / f"{name}{len(extra)}"
            out.mkdir()
            target = ["--out", str(out)] if name == "report" else ["--json", str(out / filename)]
            result = runner.invoke(app, [*args, *target, *extra])
            assert result.exit_code == 0, result.stderr
            doc = json.loads((out / filename).read_text())
            _where(doc.get("settings", {}))
            outs.append(doc)
        assert outs[0] == outs[1], name


def test_without_dask_option_dask_is_not_imported():
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom simulator.cli import app\n"
            f"r = CliRunner().invoke(app, ['simulate', {str(BELGRADE)!r}, '--runs', '1000'])\n"
            "assert r.exit_code == 0, r.output\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bench_cluster_times_both_and_names_the_cluster(belgrade):
    from simulator.bench import bench_cluster

    row = bench_cluster(belgrade, address="local:2", runs=300_000, rounds=1)
    assert (row["workers"], row["worker_threads"], row["address"]) == (2, 2, "local:2")
    assert row["local_runs_per_s"] > 0 and row["cluster_runs_per_s"] > 0
    assert row["ratio"] == pytest.approx(row["cluster_runs_per_s"] / row["local_runs_per_s"])


@pytest.mark.parametrize("extra, text", [
    (["--dask", "local:2"], "--pipeline"),
    (["--pipeline", str(BELGRADE), "--dask", "local:-1"], "local:N"),
    (["--pipeline", str(BELGRADE), "--dask", "local:2", "--cluster-runs", "0"], "--cluster-runs"),
])
def test_cli_bench_dask_option_errors(extra, text):
    result = runner.invoke(app, ["bench", "--runs", "1000", "--repeats", "1", *extra])
    assert result.exit_code == 2 and text in result.output
