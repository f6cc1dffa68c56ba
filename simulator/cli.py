"""The ``electsim`` command line: a thin typer skin over documented Python functions.

Each command parses its options, calls one library function, and prints. A user mistake
(:class:`~simulator.errors.InputError`) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import __version__
from .errors import InputError

app = typer.Typer(
    name="electsim",
    help="Monte Carlo election simulator: polls -> seat and majority probabilities.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output is not cut to 80 columns: tables keep their natural width when stdout is no terminal.
console = Console(width=None if sys.stdout.isatty() else 10_000)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _count(value: str | None, option: str) -> int | None:
    """A whole number as people write it on a command line: 1000000, 1_000_000, 1,000,000, 1e6."""
    if value is None:
        return None
    text = value.strip().replace("_", "").replace(",", "")
    try:
        number = int(text)
    except ValueError:
        try:
            x = float(text)
        except ValueError:
            raise InputError(f"{option} {value!r} is not a whole number") from None
        if not x.is_integer():
            raise InputError(f"{option} {value!r} is not a whole number") from None
        number = int(x)
    return number


def _load(config: Path, sections=None):
    """Load a config and print its likely mistakes as warnings (one line each, on stderr); with
    ``sections``, mistakes outside them are warnings too (see :func:`~simulator.config.load_config`)."""
    from .config import load_config

    election = load_config(config, sections)
    for warning in election.warnings:
        err_console.print(f"electsim: warning: {warning}", markup=False)
    return election


def _compile_note() -> None:
    """Say so when the first simulation will compile the kernels (instead of a bar stuck at 0)."""
    from .engine import COMPILE_NOTE, compiled

    if not compiled():
        err_console.print(COMPILE_NOTE, markup=False)


DASK_HELP = ("Run on a Dask cluster: tcp://host:8786 for a running scheduler, or local[:N] for N worker "
             "processes on this machine (needs electsim\\[dask]); the same results bit for bit.")


def _check_dask(address: str | None, threads: int | None) -> None:
    """--dask's address is well formed, and --threads is not given with it."""
    if address is None:
        return
    from .cluster import parse_address

    parse_address(address)
    if threads is not None:
        raise InputError("--threads sets the threads of a run here; on a cluster each worker uses its "
                         "own (dask worker --nthreads): give one or the other")


def _cluster(address: str | None):
    """A connected :class:`~simulator.cluster.Cluster` for --dask (a context), or none."""
    from .cluster import connect

    return connect(address, say=lambda message: err_console.print(message, markup=False))


def _friendly(func):
    """Turn user mistakes into one line and exit code 2, Ctrl-C into exit code 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            err_console.print(f"electsim: error: {exc}", markup=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("electsim: interrupted; no output files were written", markup=False)
            raise typer.Exit(130) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        console.print(f"electsim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Monte Carlo election simulator: polls -> seat and majority probabilities."""


@app.command()
@_friendly
def allocate(
    config: Path = typer.Argument(..., help="Election config (TOML) with a \\[result] table."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout instead of a table."),
) -> None:
    """Allocate the seats of the config's actual result under its rules."""
    from .allocation import allocate_result, district_seats
    from .config import ALLOCATE_SECTIONS
    from .report import allocation_json, allocation_table, district_table

    election = _load(config, ALLOCATE_SECTIONS)
    rows = allocate_result(election)
    districts = district_seats(election) if election.districts else None
    if as_json:
        sys.stdout.write(json.dumps(allocation_json(election, rows, districts), indent=2) + "\n")
    else:
        console.print(allocation_table(election, rows))
        if districts is not None:
            console.print(district_table(election, districts))


@app.command()
@_friendly
def simulate(
    config: Path = typer.Argument(..., help="Election config (TOML) with \\[\\[poll]] tables, or a report.json / simulate --json file to re-run."),
    runs: Optional[str] = typer.Option(None, "--runs", "-n", help="Simulated elections, e.g. 1000000, 1_000_000 or 1e6 (default: \\[simulation] runs)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: \\[simulation] seed, else fresh)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Worker threads (default: all cores). Results do not depend on it."),
    target_se: Optional[float] = typer.Option(None, "--target-se", help="Stop once every headline probability's standard error is below this (e.g. 0.001); --runs is then the cap."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the results as JSON here."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Write one row per party as CSV here."),
    markdown_path: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown summary here."),
    draws_path: Optional[Path] = typer.Option(None, "--draws", help="Write every run's vote shares (float32) and seats (int16) here as a NumPy .npz file (runs x lists; 6 bytes per run and list), streamed to disk."),
    analysis: bool = typer.Option(False, "--analysis", help="Also analyse the simulated parliaments: P(rank), Banzhaf and Shapley-Shubik indices, kingmakers, votes against seats, the last seat (reports always do)."),
    dask: Optional[str] = typer.Option(None, "--dask", metavar="ADDRESS", help=DASK_HELP),
) -> None:
    """Simulate the election from its polls: seat and vote-share distributions and majority probabilities."""
    from .draws_file import draws_size, seat_dtype
    from .engine import check_options
    from .engine import simulate as run_simulation
    from .files import Outputs, check_outputs
    from .report import parties_csv, result_markdown, result_table

    n_runs = _count(runs, "--runs")
    _check_dask(dask, threads)
    if dask and draws_path:
        raise InputError("--draws writes every run on this machine: it does not go with --dask")
    check_options(n_runs, seed, threads, target_se)
    election = _load(config)
    outputs = [(p, kind) for p, kind in ((json_path, "json"), (csv_path, "csv"), (markdown_path, "md")) if p]
    check_outputs([p for p, _ in outputs] + [draws_path], election.input_files())
    total = n_runs if n_runs is not None else election.simulation.runs
    check_options(total)
    if draws_path:
        size = draws_size(total, len(election.parties), election.rules.seats)
        wide = seat_dtype(election.rules.seats).itemsize > 2
        err_console.print(f"writing {size / 1e6:,.0f} MB of draws ({total:,} runs x "
                          f"{len(election.parties)} lists) to {draws_path}"
                          + ("; seats as int32 (more than 32,767 seats)" if wide else ""), markup=False)
    with Outputs() as files:
        with _cluster(dask) as cluster:
            if cluster is None:
                _compile_note()
            with _progress_bar(total) as update:
                result = run_simulation(election, runs=n_runs, seed=seed, threads=threads,
                                        target_se=target_se, progress=update, draws=draws_path,
                                        analysis=analysis, cluster=cluster, outputs=files)
        for path, kind in outputs:
            files.add(path, json.dumps(result.to_json(), indent=2) + "\n" if kind == "json" else
                      parties_csv(result) if kind == "csv" else result_markdown(result))
        console.print(result_table(result))
        if analysis:
            from .report import analysis_table

            console.print(analysis_table(result))
        for path in files.commit():
            err_console.print(f"wrote {path}", markup=False)


@app.command()
@_friendly
def sweep(
    config: Path = typer.Argument(..., help="Election config (TOML) with \\[\\[poll]] tables; its \\[\\[scenario]] tables are the scenarios."),
    settings: list[str] = typer.Option([], "--set", help="KEY=V1,V2,...: a scenario per value (e.g. election.threshold=3,4,5; party.ru.minority=false; election.method=sainte-lague; district.<id>.seats=10,12); several --set make a grid of every combination."),
    runs: Optional[str] = typer.Option(None, "--runs", "-n", help="Simulated elections, e.g. 1000000 or 1e6 (default: \\[simulation] runs)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: \\[simulation] seed, else fresh)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Worker threads (default: all cores). Results do not depend on it."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write the baseline, every scenario and the paired differences as JSON here."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Write one row per scenario and list or coalition as CSV here."),
    dask: Optional[str] = typer.Option(None, "--dask", metavar="ADDRESS", help=DASK_HELP),
) -> None:
    """What-if scenarios on common random numbers: the baseline and every scenario (rules changed,
    lists merged) allocated on the same simulated votes, with the differences' paired standard errors."""
    from .engine import check_options, compiled
    from .files import Outputs, check_outputs
    from .report import result_table, sweep_csv, sweep_table
    from .scenarios import SWEEP_COMPILE_NOTE, _sweep_wave, grid_scenarios, new_scenarios, variants_of
    from .scenarios import sweep as run_sweep

    n_runs = _count(runs, "--runs")
    _check_dask(dask, threads)
    check_options(n_runs, seed, threads)
    extra = grid_scenarios(settings)
    election = _load(config)
    if not election.scenarios and not extra:
        raise InputError(f"{config}: no scenarios: add [[scenario]] tables to the config or give "
                         "--set KEY=V1,V2,...")
    extra, dropped = new_scenarios(election, extra)  # every scenario checked before anything runs
    for line in dropped:
        err_console.print(f"electsim: note: {line}", markup=False)
    if not election.scenarios and not extra:
        raise InputError(f"{config}: no scenario left to run: every --set combination is the "
                         "baseline's rules")
    variants_of(election, extra)
    check_outputs([json_path, csv_path], election.input_files())
    total = n_runs if n_runs is not None else election.simulation.runs
    check_options(total)
    with _cluster(dask) as cluster:
        if cluster is None:
            _compile_note()
            if not compiled(_sweep_wave):
                err_console.print(SWEEP_COMPILE_NOTE, markup=False)
        with _progress_bar(total) as update:
            result = run_sweep(election, extra, runs=n_runs, seed=seed, threads=threads,
                               progress=update, cluster=cluster)
    console.print(result_table(result.baseline))
    console.print(sweep_table(result))
    with Outputs() as files:
        if json_path:
            files.add(json_path, json.dumps(result.to_json(), indent=2) + "\n")
        if csv_path:
            files.add(csv_path, sweep_csv(result))
        for path in files.commit():
            err_console.print(f"wrote {path}", markup=False)


@app.command()
@_friendly
def compile() -> None:  # noqa: A001 (the command's name)
    """Compile the simulation and sweep kernels into numba's cache now (the first simulation or sweep does it otherwise, once)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from .engine import warm

    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                   console=err_console, transient=True)
    started: list = []  # (what, task, start) of the step under way

    def finish() -> None:
        if started:
            what, task, start = started.pop()
            bar.remove_task(task)
            err_console.print(f"compiled {what.split(' (')[0]} in {time.perf_counter() - start:.0f} s",
                              markup=False)

    def say(what: str) -> None:
        finish()
        started.append((what, bar.add_task(f"compiling {what}", total=None), time.perf_counter()))

    with bar:
        did = warm(say)
        finish()
    if not did:
        err_console.print("the simulation and sweep kernels are compiled already", markup=False)


@app.command()
@_friendly
def bench(
    preset: Optional[str] = typer.Option(None, "--preset", help="Size named after a real election: belgrade (14 lists / 110 seats), national (20 / 250), assembly (50 / 750)."),
    lists: Optional[int] = typer.Option(None, "--lists", help="Custom number of lists (with --seats)."),
    seats: Optional[int] = typer.Option(None, "--seats", help="Custom number of seats (with --lists)."),
    method: str = typer.Option("dhondt", "--method", help="dhondt, sainte-lague, modified-sainte-lague or hare-niemeyer."),
    runs: str = typer.Option("2_000_000", "--runs", "-n", help="Allocations per timed batch (e.g. 2000000 or 2e6)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Worker threads (default: all cores)."),
    repeats: int = typer.Option(
        5, "--repeats",
        help="Timed rounds of the kernel and the seat-by-seat loop, taken in turns; medians are "
             "reported, and the kernel's speed-up is the median of the rounds' ratios."),
    pipeline: Optional[Path] = typer.Option(None, "--pipeline", help="Also time the whole pipeline (draw + allocate + tally) on this config against a numpy pipeline, and under three vote models: as configured, polling_error = 0, and the sampling model before the error layers."),
    sweep_bench: bool = typer.Option(False, "--sweep", help="With --pipeline: also time a sweep of four rule variants against one simulate (target: at most 2.5x), the analysis and its power indices against a plain run, and measure the paired standard error of a 2-point higher threshold against two independent runs'."),
    dask: Optional[str] = typer.Option(None, "--dask", metavar="ADDRESS", help="With --pipeline: also time simulate on a Dask cluster (local[:N] or tcp://host:8786) against the engine here, in alternating rounds (needs electsim\\[dask])."),
    cluster_runs: str = typer.Option("1e8", "--cluster-runs", help="Runs per timed simulate of the --dask comparison."),
    scaling: bool = typer.Option(False, "--scaling", help="Also sweep runs, lists, seats and threads."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write machine-readable results here."),
    plot_path: Optional[Path] = typer.Option(None, "--plot", help="Write the scaling chart (PNG) here; implies --scaling."),
) -> None:
    """Benchmark the allocation kernel against baselines (and optionally the whole pipeline)."""
    from .bench import (
        PRESETS, bench_analysis, bench_cluster, bench_error_model, bench_kernel, bench_pipeline,
        bench_scaling, bench_sweep, machine_info, paired_precision, plot_scaling, sweep_variants,
    )
    from .config import METHODS, load_config
    from .engine import use_threads
    from .files import check_outputs, write_atomic
    from .report import bench_table

    if preset is not None and (lists is not None or seats is not None):
        raise InputError("give --preset or --lists/--seats, not both")
    if preset is not None and preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    if (lists is None) != (seats is None):
        raise InputError("--lists and --seats go together")
    if sweep_bench and pipeline is None:
        raise InputError("--sweep needs --pipeline CONFIG (the election to sweep)")
    if dask is not None and pipeline is None:
        raise InputError("--dask needs --pipeline CONFIG (the election to simulate)")
    _check_dask(dask, threads)
    cluster_runs = _count(cluster_runs, "--cluster-runs")
    if cluster_runs < 1:
        raise InputError("--cluster-runs must be at least 1")
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    runs = _count(runs, "--runs")
    if runs < 1 or repeats < 1:
        raise InputError("--runs and --repeats must be at least 1")
    if threads is not None:
        use_threads(threads)
    check_outputs([json_path, plot_path], [pipeline] if pipeline else [])
    election = load_config(pipeline) if pipeline else None
    if lists is None:
        preset = preset or "belgrade"
        lists, seats = PRESETS[preset]
    # the seat-by-seat loop is timed on up to 200,000 rows each round (1,000 seats: seconds)
    kernel = bench_kernel(lists=lists, seats=seats, runs=runs, method=method, threads=threads,
                          repeats=repeats, seat_loop_runs=min(runs, 200_000))
    doc = {"machine": machine_info(), "preset": preset, **kernel.to_dict()}
    console.print(bench_table(kernel, doc["machine"]))
    if election is not None:
        doc["pipeline"] = bench_pipeline(election, threads=threads)
        for name, row in doc["pipeline"]["implementations"].items():
            console.print(f"pipeline  {name}: {row['runs_per_s']:,.0f} simulated elections/s")
        if "speedup_vs_numpy" in doc["pipeline"]:
            console.print(f"pipeline  speed-up over numpy: {doc['pipeline']['speedup_vs_numpy']:,.1f}x")
        doc["error_model"] = bench_error_model(election, threads=threads)
        for name, row in doc["error_model"]["variants"].items():
            console.print(f"vote model  {name}: {row['runs_per_s']:,.0f} simulated elections/s "
                          f"({row['ratio_to_before']:.2f}x the sampling model before the error layers)")
    if sweep_bench:
        doc["sweep"] = bench_sweep(election, threads=threads)
        row = doc["sweep"]
        console.print(f"sweep  baseline + {len(row['variants'])} rule variants on shared draws: "
                      f"{row['sweep_runs_per_s']:,.0f} runs/s, {row['ratio']:.2f}x the time of one "
                      f"simulate ({row['simulate_runs_per_s']:,.0f} runs/s)")
        doc["analysis"] = bench_analysis(election, threads=threads)
        row = doc["analysis"]
        console.print(f"analysis  power indices add {100 * row['power_added']:.0f} % to a plain run; "
                      f"the whole analysis takes {row['analysis_ratio']:.2f}x its time")
        doc["paired"] = paired_precision(election, sweep_variants(election)[0])
        row = doc["paired"]
        for key in ("mean_seats", "p_majority"):
            x = row[key]
            console.print(f"paired  {row['scenario']}, {row['party']} {key}: difference "
                          f"{x['difference']:+.4g}, sd paired {x['paired_sd']:.3g} (reported s.e. "
                          f"{x['paired_se_reported']:.3g}), two independent runs {x['independent_sd']:.3g}: "
                          f"{x['independent_over_paired']:.1f}x")
    if dask is not None:
        doc["cluster"] = row = bench_cluster(election, address=dask, runs=cluster_runs)
        console.print(f"cluster  {row['workers']} workers, {row['worker_threads']} threads: "
                      f"{row['cluster_runs_per_s']:,.0f} runs/s against {row['local_runs_per_s']:,.0f} "
                      f"here ({100 * row['ratio']:.0f} %); started in {row['cluster_start_s']:.1f} s")
    if scaling or plot_path:
        doc["scaling"] = bench_scaling(method=method)
        for key in ("runs", "lists", "seats", "threads"):
            cells = ", ".join(f"{r[key]}: {r['allocations_per_s'] / 1e6:.2f}M/s" for r in doc["scaling"][key])
            console.print(f"scaling by {key:7s} {cells}")
        if plot_path:
            plot_scaling(doc["scaling"], plot_path)
            err_console.print(f"wrote {plot_path}", markup=False)
    if json_path:
        write_atomic(json_path, json.dumps(doc, indent=2) + "\n")
        err_console.print(f"wrote {json_path}", markup=False)


@app.command()
@_friendly
def report(
    config: Path = typer.Argument(..., help="Election config (TOML) with \\[\\[poll]] tables."),
    runs: Optional[str] = typer.Option(None, "--runs", "-n", help="Simulated elections, e.g. 1000000 or 1e6 (default: \\[simulation] runs)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default: \\[simulation] seed, else fresh)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Worker threads (default: all cores)."),
    out: Path = typer.Option(Path("report"), "--out", "-o", help="Directory to write the report into."),
    formats: str = typer.Option("md,csv,json,html,png,svg", "--format", "-f",
                                help="Comma-separated: md, csv, json, html, png, svg."),
    cutoff: float = typer.Option(0.05, "--cutoff", help="Show discovered minimal winning coalitions with P(majority) at least this."),
    dask: Optional[str] = typer.Option(None, "--dask", metavar="ADDRESS", help=DASK_HELP),
) -> None:
    """Write tables (Markdown, CSV, JSON), charts (PNG, SVG) and an HTML page for a forecast,
    scored against the actual result when the config has one."""
    from .report import check_report_dir, make_report, parse_formats, render_report, summary_line, write_report

    from .engine import check_options

    n_runs = _count(runs, "--runs")
    _check_dask(dask, threads)
    check_options(n_runs, seed, threads)
    fmts = parse_formats(formats)
    check_report_dir(out, [config])
    election = _load(config)
    check_report_dir(out, election.input_files())
    total = n_runs if n_runs is not None else election.simulation.runs
    check_options(total)
    with _cluster(dask) as cluster:
        _compile_note()  # the coalition search's pilot runs here
        with _progress_bar(total) as update:
            rep = make_report(election, runs=n_runs, seed=seed, threads=threads, cutoff=cutoff,
                              progress=update, cluster=cluster)
    paths = write_report(out, render_report(rep, fmts))
    console.print(summary_line(dataclasses.replace(
        rep.result, coalitions={n: rep.result.coalitions[n] for n in rep.coalitions})))
    for p in paths:
        console.print(f"wrote {p}")


@app.command()
@_friendly
def calibrate(
    paths: list[Path] = typer.Argument(..., help="Configs of past elections with polls and a \\[result], or directories of them (e.g. configs/history)."),
    fit: bool = typer.Option(False, "--fit", help="Fit the polling error by leave-one-election-out, score each election with the fit made without it, and write the fit on all of them to polling_error.json (in --out, else in the working directory; or --fit-file). A config uses it with model.polling_error = \"polling_error.json\"; the package's own default is never overwritten."),
    fit_file: Optional[Path] = typer.Option(None, "--fit-file", help="With --fit: write the fit here (default: polling_error.json in --out, else in the working directory)."),
    runs: Optional[str] = typer.Option("20000", "--runs", "-n", help="Simulated elections per election and model (100 to 1,000,000; 20000, 2e4 and 20_000 all work)."),
    seed: int = typer.Option(1, "--seed", help="Random seed (election k uses seed + k)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Write every score as JSON here."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write calibration.md, .csv, .json and the PIT and coverage chart (.png, .svg) into this directory (and, with --fit, the fit)."),
    dask: Optional[str] = typer.Option(None, "--dask", metavar="ADDRESS", help=DASK_HELP),
) -> None:
    """Forecast past elections from their own polls and score the forecasts against the results: interval coverage, PIT, CRPS, Brier and log scores, for the sampling-only and the calibrated model side by side."""
    from .calibration import FIT_FILE, shipped_document, write_fit
    from .calibration import calibrate as run_calibration
    from .engine import check_options
    from .files import check_outputs
    from .report import calibration_files, calibration_table, check_report_dir, write_atomic, write_report

    n_runs = _count(runs, "--runs")
    check_options(seed=seed)
    if fit_file is not None and not fit:
        raise InputError("--fit-file needs --fit")
    _check_dask(dask, None)
    fit_path = None
    if fit:
        fit_path = fit_file or (out / FIT_FILE if out else Path(FIT_FILE))
    inputs = [p for p in paths if p.is_file()]
    in_out = fit_path is not None and fit_file is None and out is not None  # out may not exist yet
    check_outputs([p for p in (json_path, None if in_out else fit_path) if p is not None], inputs)
    if out:
        check_report_dir(out, inputs)
    with _cluster(dask) as cluster, err_console.status("calibrating") as status:
        cal = run_calibration([str(p) for p in paths], do_fit=fit, runs=n_runs, seed=seed,
                              progress=lambda msg: status.update(f"calibrating: {msg}"),
                              cluster=cluster)
    console.print(calibration_table(cal))
    if json_path:
        write_atomic(json_path, json.dumps(cal.to_json(), indent=2) + "\n")
        err_console.print(f"wrote {json_path}", markup=False)
    if out:
        for p in write_report(out, calibration_files(cal)):
            err_console.print(f"wrote {p}", markup=False)
    if fit:
        path = write_fit(shipped_document(cal.fit, cal), fit_path)
        p = cal.fit.params
        err_console.print(f"fitted: scale {p.scale:.4f}, size exponent {p.size_exponent:.3f}, drift "
                          f"{p.drift:.3f}, df {p.df:g}; wrote {path} (use it with "
                          f'model.polling_error = "{path}")', markup=False)


polls_app = typer.Typer(
    help="Work with poll tables: turn them into a config's \\[\\[poll]] blocks.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
app.add_typer(polls_app, name="polls")


@polls_app.command("import")
@_friendly
def polls_import(
    table: Path = typer.Argument(..., help="A poll table of European Opinion Polls as Open Data (data/polls/<country>.psv, pipe-separated)."),
    election_date: str = typer.Option(..., "--election-date", help="Election day, YYYY-MM-DD: polls whose fieldwork ended in the days before it are kept."),
    days: int = typer.Option(21, "--days", help="How many days before the election a poll's fieldwork may end."),
    party: list[str] = typer.Option([], "--party", help="ID=COLUMN or ID=COLUMN+COLUMN (added up); repeat it. Without it every party column is a list named after it; with it, unmapped columns go to others."),
    seats: Optional[int] = typer.Option(None, "--seats", help="The parliament's seats: rows published in seats (precision S) that add up to it become shares, their sample size lowered for the rounding to whole seats (without it they are skipped)."),
    firm: list[str] = typer.Option([], "--firm", help="ALIAS=NAME: the table's polling firm ALIAS is written as NAME, so that one firm under several names (Ipsos I&O, I&O Research) is one firm; repeat it."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the blocks here (default: standard output)."),
) -> None:
    """Turn an EOPAOD poll table into \\[\\[poll]] blocks for a config: rows in seats and
    European-election rows are skipped, assumed sample sizes are marked."""
    import datetime as dt

    from .importers import parse_firm_option, parse_party_option, polls_toml, read_eopaod
    from .report import check_writable, write_atomic

    try:
        date = dt.date.fromisoformat(election_date)
    except ValueError:
        raise InputError(f"--election-date {election_date!r} is not a date like 2021-09-26") from None
    mapping = None
    if party:
        mapping = {}
        for v in party:
            pid, cols = parse_party_option(v)
            if pid in mapping:
                raise InputError(f"--party {pid} is given twice ({pid}={mapping[pid]}, {v}); "
                                 f"add the columns up in one: {pid}=A+B")
            mapping[pid] = cols
    firms: dict[str, str] = {}
    for v in firm:
        alias, name = parse_firm_option(v)
        if alias in firms and firms[alias] != name:
            raise InputError(f"--firm {alias} is given twice ({alias}={firms[alias]}, {v})")
        firms[alias] = name
    if out:
        check_writable(out, inputs=(table,))
    imp = read_eopaod(table, date, days=days, parties=mapping, firms=firms, seats=seats)
    text = polls_toml(imp)
    if out:
        write_atomic(out, text)
        err_console.print(f"wrote {len(imp.polls)} polls to {out}", markup=False)
    else:
        sys.stdout.write(text)
    skipped = ", ".join(f"{v} {k}" for k, v in imp.skipped.items() if v and k != "outside the window")
    if skipped:
        err_console.print(f"skipped rows: {skipped}", markup=False)
    if imp.skipped.get("seats"):
        err_console.print(f"{imp.skipped['seats']} polls published in seats (precision S) were "
                          "skipped: give --seats N, the parliament's seats, to convert them to shares",
                          markup=False)
    if imp.converted:
        err_console.print(f"converted {imp.converted} polls published in seats to shares of "
                          f"{imp.seats} seats, their sample sizes lowered for the rounding to whole "
                          "seats", markup=False)


class _progress_bar:
    """A rich progress bar with runs/s, fed by the engine's progress callback."""

    def __init__(self, total: int):
        from rich.progress import (
            BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
        )

        self.total = total
        self.progress = Progress(
            TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("left"),
            TimeRemainingColumn(), console=err_console, transient=True,
        )
        self.task = None
        self.start = 0.0

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task("simulate", total=self.total, rate="")
        self.start = time.perf_counter()
        return self.update

    def update(self, done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        self.progress.update(self.task, completed=done, total=total, rate=f"{rate:,.0f} runs/s")

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)


def main() -> None:
    """Entry point of the ``electsim`` console script."""
    app()
