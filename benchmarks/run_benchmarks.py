"""Reproduce the figures in the README: kernel vs baselines, pipeline vs numpy, scaling, memory,
sweeps, the analysis, and a Dask LocalCluster against the engine here.

    .venv/bin/python benchmarks/run_benchmarks.py [--runs 10000000] [--out benchmarks/results]

Writes results.json and scaling.png into --out and prints the tables. Everything here calls the
library functions behind `electsim bench` (simulator/bench.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from simulator.bench import (
    bench_analysis, bench_cluster, bench_error_model, bench_kernel, bench_laws, bench_pipeline, bench_scaling,
    bench_sweep,
    machine_info, paired_precision, plot_scaling, sweep_variants,
)
from simulator.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000_000, help="Belgrade-sized allocations timed")
    ap.add_argument("--pipeline-runs", type=int, default=10_000_000)
    ap.add_argument("--memory-runs", type=int, default=100_000_000,
                    help="runs of the memory check (0 to skip)")
    ap.add_argument("--cluster-runs", type=int, default=100_000_000,
                    help="runs of the Dask LocalCluster comparison (0 to skip; needs electsim[dask])")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    doc = {"machine": machine_info()}
    # the pipeline and its memory check first, before the kernel benchmark's large arrays raise the
    # process's peak memory
    belgrade = load_config(ROOT / "configs" / "belgrade-2024.toml")
    doc["pipeline"] = bench_pipeline(belgrade, runs=args.pipeline_runs, memory_runs=args.memory_runs or None)
    print(json.dumps(doc["pipeline"], indent=2))
    doc["error_model"] = bench_error_model(belgrade, runs=args.pipeline_runs // 2)
    print(json.dumps(doc["error_model"], indent=2))
    # scenarios on shared draws (baseline + 4 rule variants) against one simulate, the analysis
    # and its power indices against a plain run, and what pairing gains in precision
    doc["sweep"] = bench_sweep(belgrade, runs=args.pipeline_runs // 5)
    print(json.dumps(doc["sweep"], indent=2))
    doc["analysis"] = bench_analysis(belgrade, runs=args.pipeline_runs // 5)
    print(json.dumps(doc["analysis"], indent=2))
    # the analysis's cost as the number of lists grows (synthetic: 150 seats, a quota threshold)
    doc["analysis_by_lists"] = {}
    for lists in (5, 10, 16):
        synthetic = load_config(ROOT / "benchmarks" / "configs" / f"lists-{lists}.toml")
        doc["analysis_by_lists"][lists] = bench_analysis(synthetic, runs=args.pipeline_runs // 20)
        print(f"analysis, {lists} lists: {doc['analysis_by_lists'][lists]['analysis_ratio']:.2f}x a plain run")
    # laws of tiers (#21): levelling (Norway, Sweden, Denmark), a second scrutiny (Czechia), a bonus
    # (Greece), against the same draws through the one-tier kernel
    laws = [load_config(ROOT / "configs" / f"{name}.toml") for name in
            ("norway-2017", "czechia-2021", "sweden-2018", "denmark-2019", "greece-2023-06")]
    doc["laws"] = bench_laws(laws, runs=args.pipeline_runs // 5)
    for name, row in doc["laws"]["elections"].items():
        print(f"{name}: {row['runs_per_s']:,.0f} runs/s, {row['ratio_to_one_tier']:.2f}x the time "
              f"of the one-tier kernel on the same draws ({row['one_tier_runs_per_s']:,.0f} runs/s)")
    by_name = {e.name: doc["laws"]["elections"][e.name] for e in laws}
    # the targets of the issues, checked here (never by a timed unit test)
    checks = {
        "Norway-sized law (19 districts + levelling) at least 1M runs/s":
            by_name[laws[0].name]["runs_per_s"] >= 1e6,
        "Czechia 2021-sized law (14 regions + second scrutiny) at least 1M runs/s":
            by_name[laws[1].name]["runs_per_s"] >= 1e6,"sweep of 4 variants at most 2.5x one simulate": doc["sweep"]["ratio"] <= 2.5,
              "analysis (Belgrade) costs more than a plain run": doc["analysis"]["analysis_ratio"] > 1.0,
              "analysis of 16 lists at most 8x a plain run":
                  doc["analysis_by_lists"][16]["analysis_ratio"] <= 8.0}
    for what, ok in checks.items():
        print(f"target {'met' if ok else 'MISSED'}: {what}")
    doc["targets"] = checks
    doc["paired"] = paired_precision(belgrade, sweep_variants(belgrade)[0], runs=100_000, repeats=40)
    print(json.dumps(doc["paired"], indent=2))
    # a Poland-sized forecast: 41 districts, 460 seats, 7 lists, swing from the 2015 districts
    poland = load_config(ROOT / "configs" / "poland-2019.toml")
    doc["districts"] = bench_pipeline(poland, runs=args.pipeline_runs // 5, memory_runs=None)
    print(json.dumps(doc["districts"], indent=2))
    # a LocalCluster of 2 single-threaded workers against the engine here (target: at least 80 %)
    if args.cluster_runs:
        doc["cluster"] = bench_cluster(belgrade, address="local:2", runs=args.cluster_runs)
        print(json.dumps(doc["cluster"], indent=2))
    kernel = bench_kernel(lists=14, seats=110, runs=args.runs, seat_loop_runs=min(args.runs, 2_000_000))
    doc["kernel"] = kernel.to_dict()
    print(f"Belgrade size (14 lists, 110 seats, D'Hondt), {kernel.threads} threads, {args.runs:,} allocations")
    for t in kernel.timings:
        print(f"  {t.name:24s} {t.allocations_per_s:>16,.0f}/s {t.speedup_vs_seat_by_seat:>10.3g}x"
              f"  matched={t.matched_reference}  timed on {t.runs_timed:,}")
    doc["scaling"] = bench_scaling()
    plot_scaling(doc["scaling"], args.out / "scaling.png")
    (args.out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out / 'results.json'} and {args.out / 'scaling.png'}")


if __name__ == "__main__":
    main()
