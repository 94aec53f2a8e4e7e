"""`kubetfx bench`: each step timed against plain baselines at several sizes (README, "Benchmarks")."""
import argparse
import json
import pathlib

NAME = "bench"


def add_arguments(commands) -> None:
    bench = commands.add_parser(NAME, help="time each step against plain baselines at several sizes")
    bench.add_argument("--sizes", default="100000,1000000,5000000", help="comma-separated interaction counts")
    bench.add_argument("--out", default="build/bench")
    bench.add_argument("--no-baselines", action="store_true", help="time the pipeline only")
    bench.add_argument("--baselines-up-to", type=int, default=1_000_000,
                       help="run the plain baselines at sizes up to this one only (default 1,000,000)")
    bench.add_argument("--items", type=int, default=0,
                       help="products in the catalogue at every size (default: one per 60 interactions, growing with the data)")
    bench.add_argument("--evaluate-sizes", default="", help="eval example counts for evaluate vs model.evaluate, e.g. 25000,1000000")


def main(args: argparse.Namespace) -> int:
    from kubetfx import bench

    sizes = tuple(int(size) for size in args.sizes.split(",") if size)
    if args.evaluate_sizes:
        eval_sizes = tuple(int(size) for size in args.evaluate_sizes.split(","))
        evaluation = bench.evaluate_bench(eval_sizes, args.out)
        pathlib.Path(args.out, "evaluate.json").write_text(json.dumps(evaluation, indent=2) + "\n")
        print(json.dumps(evaluation, indent=2))
    if not sizes:
        return 0
    results = bench.run(bench.BenchConfig(sizes=sizes, out_dir=args.out, baselines=not args.no_baselines,
                                          baselines_up_to=args.baselines_up_to, items=args.items))
    print(bench.markdown(results))
    print(f"results: {args.out}/results.json")
    return 0
