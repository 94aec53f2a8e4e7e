"""`python -m kubetfx.pipelines.recommender.bench_workers`: examples per second of the reference
model trained by one worker and by two workers on localhost, in one run, with the ratio and what
the multi-worker run costs (cluster start-up, and per step, the all-reduce between processes).

Prints a Markdown table; writes `results.json` to `--out`.
"""
import argparse
import json
import pathlib

from kubetfx.components.common import timing
from kubetfx.pipelines.recommender import train_bench


def run(out: pathlib.Path, config: train_bench.ThroughputConfig) -> dict:
    """Measures 1 and 2 workers on the same inputs; returns both and their ratio."""
    with timing.stage("bench-workers", f"ingest, validate and transform {config.interactions:,} interactions"):
        inputs = train_bench.prepare(out / "inputs", config.interactions)
    results = {}
    for workers in (1, 2):
        with timing.stage("bench-workers", f"{workers} worker(s), {config.epochs} x {config.steps_per_epoch} steps"):
            results[workers] = train_bench.measure(inputs, out / f"workers-{workers}", workers, config)
    one, two = results[1], results[2]
    summary = {
        "one_worker": one,
        "two_workers": two,
        "ratio_examples_per_second": round(two["examples_per_second"] / one["examples_per_second"], 3),
        "step_time_ratio": round(two["step_seconds"] / one["step_seconds"], 3),
        "extra_cluster_start_seconds": round(two["cluster_start_seconds"] - one["cluster_start_seconds"], 2),
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def markdown(summary: dict) -> str:
    rows = [summary["one_worker"], summary["two_workers"]]
    lines = ["| workers | global batch | s/step | examples/s | run_fn fixed s (trace, export) | strategy start s | wall s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['workers']} | {r['global_batch']} | {r['step_seconds']:.4f} | {r['examples_per_second']:,.0f} | "
              f"{r['fixed_seconds']:.1f} | {r['cluster_start_seconds']:.1f} | {r['wall_seconds']:.1f} |" for r in rows]
    lines.append(f"\n2 workers / 1 worker: {summary['ratio_examples_per_second']}x the examples per second; "
                 f"a step takes {summary['step_time_ratio']}x as long (each step carries twice the examples)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    default = train_bench.ThroughputConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/bench-workers")
    parser.add_argument("--interactions", type=int, default=default.interactions)
    parser.add_argument("--steps-per-epoch", type=int, default=default.steps_per_epoch)
    args = parser.parse_args(argv)
    config = train_bench.ThroughputConfig(interactions=args.interactions, steps_per_epoch=args.steps_per_epoch)
    print(markdown(run(pathlib.Path(args.out), config)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
