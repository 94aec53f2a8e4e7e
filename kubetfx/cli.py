"""`kubetfx`: run the reference pipeline locally, compile it for a cluster."""
import argparse
import json
import pathlib
import sys

from kubetfx.version import __version__

DEFAULT_IMAGE_REPO = "localhost:5000"
DEFAULT_DATA_CACHE = "~/.cache/kubetfx"
COMPILED_FILE = "recommender.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubetfx", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the recommender pipeline locally with kfp.local")
    run.add_argument("--interactions", help="interaction log (CSV/Parquet); default: MovieLens-100K")
    run.add_argument("--users", default="", help="user features table")
    run.add_argument("--items", default="", help="item features table")
    run.add_argument("--synthetic", action="store_true", help="use a small synthetic data set instead of MovieLens")
    run.add_argument("--data-cache", default=DEFAULT_DATA_CACHE, help="where MovieLens-100K is cached")
    run.add_argument("--run-dir", default="build/run", help="pipeline root, reports and summary.json")
    run.add_argument("--serving-root", default="build/serving/recommender", help="where blessed models are pushed")
    run.add_argument("--module-file", default=None, help="module file with preprocessing_fn and run_fn")
    run.add_argument("--train-steps", type=int, default=None)
    run.add_argument("--param", action="append", default=[], metavar="NAME=JSON",
                     help="any other pipeline parameter, e.g. --param 'thresholds={\"ndcg@10\": 0.2}'")

    compile_ = commands.add_parser("compile", help="compile the pipeline spec users upload to Kubeflow")
    compile_.add_argument("--image-repo", default=DEFAULT_IMAGE_REPO, help="registry path of the kubetfx images")
    compile_.add_argument("--image-tag", default=__version__)
    compile_.add_argument("--cpu-digest", default="", help="sha256:... of the pushed CPU image, to pin it")
    compile_.add_argument("--gpu-digest", default="", help="sha256:... of the pushed GPU trainer image, to pin it")
    compile_.add_argument("--out", default="compile", help="folder for the compiled specs")
    generate = commands.add_parser("generate", help="write a synthetic e-commerce data set of any size")
    generate.add_argument("--out", required=True, help="folder for interactions.csv, users.csv, items.csv")
    generate.add_argument("--interactions", type=int, default=100_000)
    generate.add_argument("--users", type=int, default=0, help="0: one per 50 interactions")
    generate.add_argument("--items", type=int, default=0, help="0: about one per 60 interactions")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--unfair-group", default="", help="an occupation whose users are served badly")
    generate.add_argument("--shift-feature", default="", choices=["", "age"], help="a user feature to shift")
    generate.add_argument("--shift-amount", type=float, default=15.0)
    generate.add_argument("--new-items", type=int, default=0, help="products that appear only late in the log")

    bench = commands.add_parser("bench", help="time each step against plain baselines at several sizes")
    bench.add_argument("--sizes", default="100000,1000000,5000000", help="comma-separated interaction counts")
    bench.add_argument("--out", default="build/bench")
    bench.add_argument("--no-baselines", action="store_true", help="time the pipeline only")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from kubetfx.components.common.errors import KubetfxError

    try:
        return {"run": _run, "compile": _compile, "generate": _generate, "bench": _bench}[args.command](args)
    except KubetfxError as error:
        print(f"kubetfx: {error}", file=sys.stderr)
        return 2


def _images(args):
    from kubetfx.config import Images

    return Images(repo=args.image_repo, tag=args.image_tag, cpu_digest=args.cpu_digest, gpu_digest=args.gpu_digest)


def _compile(args) -> int:
    from kfp import compiler

    from kubetfx.pipelines.recommender import pipeline

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / COMPILED_FILE
    compiler.Compiler().compile(pipeline.create_pipeline(_images(args)), str(target))
    print(f"wrote {target}")
    return 0


def _data_arguments(args) -> dict:
    from kubetfx.pipelines.recommender import data

    if args.interactions:
        return {"interactions_uri": args.interactions, "users_uri": args.users, "items_uri": args.items}
    if args.synthetic:
        folder = data.synthetic(str(pathlib.Path(args.run_dir) / "synthetic-data"))
    else:
        print("kubetfx: using MovieLens-100K (fetched once into the data cache)", file=sys.stderr)
        folder = data.movielens_100k(args.data_cache)
    return {
        "interactions_uri": str(folder / data.INTERACTIONS_FILE),
        "users_uri": str(folder / data.USERS_FILE),
        "items_uri": str(folder / data.ITEMS_FILE),
    }


def _parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    return params


def _run(args) -> int:
    from kubetfx.config import Images
    from kubetfx.pipelines import local_runner
    from kubetfx.pipelines.recommender import pipeline

    arguments = {**_data_arguments(args), "serving_root": str(pathlib.Path(args.serving_root).resolve())}
    if args.module_file:
        arguments["module_file"] = args.module_file
    if args.train_steps:
        arguments["train_steps"] = args.train_steps
    arguments.update(_parse_params(args.param))
    recommender = pipeline.create_pipeline(Images(repo="local"))
    summary = local_runner.run(recommender, arguments, args.run_dir)
    print(local_runner.format_summary(summary))
    print(f"summary: {pathlib.Path(args.run_dir) / local_runner.SUMMARY_FILE}")
    return 0 if summary["status"] == "succeeded" else 1


def _generate(args) -> int:
    from kubetfx.pipelines.recommender.generator import GeneratorConfig, generate

    config = GeneratorConfig(interactions=args.interactions, users=args.users, items=args.items, seed=args.seed,
                             unfair_group=args.unfair_group, shift_feature=args.shift_feature,
                             shift_amount=args.shift_amount, new_items=args.new_items)
    counts = generate(args.out, config)
    print(f"wrote {counts['interactions']:,} interactions, {counts['users']:,} users, {counts['items']:,} items to {args.out}")
    return 0


def _bench(args) -> int:
    from kubetfx import bench

    sizes = tuple(int(size) for size in args.sizes.split(",") if size)
    results = bench.run(bench.BenchConfig(sizes=sizes, out_dir=args.out, baselines=not args.no_baselines))
    print(bench.markdown(results))
    print(f"results: {args.out}/results.json")
    return 0
