"""`kubetfx run`: the recommender pipeline locally with kfp.local (README, "Two commands")."""
import argparse
import pathlib
import sys

NAME = "run"
DEFAULT_DATA_CACHE = "~/.cache/kubetfx"


def add_arguments(commands) -> None:
    run = commands.add_parser(NAME, help="run the recommender pipeline locally with kfp.local")
    run.add_argument("--interactions", help="interaction log (CSV/Parquet); default: MovieLens-100K")
    run.add_argument("--users", default="", help="user features table")
    run.add_argument("--items", default="", help="item features table")
    run.add_argument("--synthetic", action="store_true", help="use a small synthetic data set instead of MovieLens")
    run.add_argument("--data-cache", default=DEFAULT_DATA_CACHE, help="where MovieLens-100K is cached")
    run.add_argument("--run-dir", default="build/run", help="pipeline root, reports and summary.json")
    run.add_argument("--serving-root", default="build/serving/recommender", help="where blessed models are pushed")
    run.add_argument("--module-file", default=None, help="module file with preprocessing_fn and run_fn")
    run.add_argument("--train-steps", type=int, default=None)
    run.add_argument("--runner", choices=["docker", "subprocess"], default="subprocess",
                     help="docker: each step in IMAGE's container through kfp.local's DockerRunner (DOCKER_HOST), "
                          "as on a cluster; subprocess: each step in this environment (quicker to iterate)")
    run.add_argument("--image", default="", help="with --runner docker: the step image, best by digest "
                                                  "(`make run` builds it and passes it)")
    run.add_argument("--param", action="append", default=[], metavar="NAME=JSON",
                     help="any other pipeline parameter, e.g. --param 'thresholds={\"ndcg@10\": 0.2}'")


def main(args: argparse.Namespace) -> int:
    from kubetfx.config import Images
    from kubetfx.pipelines import local_runner
    from kubetfx.pipelines.recommender import pipeline

    arguments = {**_data_arguments(args), "serving_root": str(pathlib.Path(args.serving_root).resolve())}
    if args.module_file:
        arguments["module_file"] = args.module_file
    if args.train_steps:
        arguments["train_steps"] = args.train_steps
    arguments = typed_arguments(arguments, args.param)
    in_containers = args.runner == "docker"
    if in_containers and not args.image:
        raise SystemExit("kubetfx run: --runner docker needs --image (`make run` builds the image and passes it)")
    recommender = pipeline.create_pipeline(Images(repo="local", every_step=args.image))
    summary = local_runner.run(recommender, arguments, args.run_dir, in_containers=in_containers)
    print(local_runner.format_summary(summary))
    print(f"summary: {pathlib.Path(args.run_dir) / local_runner.SUMMARY_FILE}")
    return 0 if summary["status"] == "succeeded" else 1


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


def typed_arguments(arguments: dict, pairs: list[str]) -> dict:
    """`arguments` and the --param NAME=VALUE pairs, checked and typed as `kubetfx submit` does it:
    unknown names (a typo) and values not of the declared type stop the run with one line."""
    from google.protobuf import json_format

    from kubetfx import submit
    from kubetfx.config import Images
    from kubetfx.pipelines.recommender import pipeline

    values = dict(arguments)
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not name or not separator:
            raise SystemExit(f"kubetfx run: --param '{pair}' is not NAME=VALUE")
        values[name] = value
    spec = pipeline.create_pipeline(Images(repo="local")).pipeline_spec
    parameters = json_format.MessageToDict(spec.root.input_definitions)["parameters"]
    declared = submit.Spec(path="the recommender pipeline", name=spec.pipeline_info.name, description="",
                           parameters=parameters, digest="")
    return submit.typed_parameters(declared, values)
