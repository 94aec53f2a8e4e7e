"""`kubetfx run`: a reference pipeline locally with kfp.local (README, "Two commands"): the recommender
(retrieval) by default, or ranking (README, "The ranking pipeline")."""
import argparse
import pathlib
import sys

NAME = "run"
DEFAULT_DATA_CACHE = "~/.cache/kubetfx"
RECOMMENDER, RANKING = "recommender", "ranking"
PIPELINES = (RECOMMENDER, RANKING)
RANKING_DATA_DIR = "ranking-data"  # under the run folder: the ranking table made from the interactions


def add_arguments(commands) -> None:
    run = commands.add_parser(NAME, help="run a reference pipeline (the recommender, or ranking) locally with kfp.local")
    run.add_argument("--pipeline", choices=PIPELINES, default=RECOMMENDER,
                     help="recommender: retrieval, the two-tower model; ranking: the propensity classifier over "
                          "user, item and context features, its table made from the same three files")
    run.add_argument("--interactions", help="interaction log (CSV/Parquet); default: MovieLens-100K")
    run.add_argument("--users", default="", help="user features table")
    run.add_argument("--items", default="", help="item features table")
    run.add_argument("--synthetic", action="store_true", help="use a small synthetic data set instead of MovieLens")
    run.add_argument("--data-cache", default=DEFAULT_DATA_CACHE, help="where MovieLens-100K is cached")
    run.add_argument("--run-dir", default="build/run", help="pipeline root, reports and summary.json")
    run.add_argument("--serving-root", default="", help="where blessed models are pushed (default: build/serving/PIPELINE)")
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

    data_arguments = _ranking_data_arguments(args) if args.pipeline == RANKING else _data_arguments(args)
    serving_root = args.serving_root or f"build/serving/{args.pipeline}"
    arguments = {**data_arguments, "serving_root": str(pathlib.Path(serving_root).resolve())}
    if args.module_file:
        arguments["module_file"] = args.module_file
    if args.train_steps:
        arguments["train_steps"] = args.train_steps
    arguments = typed_arguments(arguments, args.param, args.pipeline)
    in_containers = args.runner == "docker"
    if in_containers and not args.image:
        raise SystemExit("kubetfx run: --runner docker needs --image (`make run` builds the image and passes it)")
    pipeline_func = _create_pipeline(args.pipeline, Images(repo="local", every_step=args.image))
    summary = local_runner.run(pipeline_func, arguments, args.run_dir, in_containers=in_containers)
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


def _create_pipeline(name: str, images):
    """The pipeline function `name` names, its steps on `images`."""
    if name == RANKING:
        from kubetfx.pipelines.ranking import pipeline as ranking

        return ranking.create_pipeline(images.cpu)
    from kubetfx.pipelines.recommender import pipeline as recommender

    return recommender.create_pipeline(images)


def _ranking_data_arguments(args) -> dict:
    """The ranking table, made from the interactions, users and items (MovieLens-100K by default) or
    synthetic, in the run folder."""
    from kubetfx.pipelines.ranking import data as ranking_data

    out = pathlib.Path(args.run_dir) / RANKING_DATA_DIR
    if args.synthetic:
        return {"data_uri": str(ranking_data.synthetic(str(out)))}
    if args.interactions and not (args.users and args.items):
        raise SystemExit("kubetfx run: the ranking pipeline needs --users and --items with --interactions "
                         "(its table joins the user's and the item's features to each interaction)")
    files = _data_arguments(args)
    return {"data_uri": str(ranking_data.movielens_table(files["interactions_uri"], files["users_uri"],
                                                         files["items_uri"], str(out)))}


def typed_arguments(arguments: dict, pairs: list[str], pipeline_name: str = RECOMMENDER) -> dict:
    """`arguments` and the --param NAME=VALUE pairs, checked and typed as `kubetfx submit` does it:
    unknown names (a typo) and values not of the declared type stop the run with one line."""
    from google.protobuf import json_format

    from kubetfx import submit
    from kubetfx.config import Images

    values = dict(arguments)
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not name or not separator:
            raise SystemExit(f"kubetfx run: --param '{pair}' is not NAME=VALUE")
        values[name] = value
    spec = _create_pipeline(pipeline_name, Images(repo="local")).pipeline_spec
    parameters = json_format.MessageToDict(spec.root.input_definitions)["parameters"]
    declared = submit.Spec(path=f"the {pipeline_name} pipeline", name=spec.pipeline_info.name, description="",
                           parameters=parameters, digest="")
    return submit.typed_parameters(declared, values)
