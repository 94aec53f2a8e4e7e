"""`kubetfx recommend`: the top-k of a pushed model for many users, to Parquet (README, "Deploying and
maintaining")."""
import argparse

NAME = "recommend"


def add_arguments(commands) -> None:
    from kubetfx.pipelines.recommender.components.batch_recommend.executor import BatchRecommendConfig

    recommend = commands.add_parser(NAME, help="write the top-k of the blessed model for many users to Parquet")
    source = recommend.add_mutually_exclusive_group(required=True)
    source.add_argument("--serving-root", help="use the version LATEST points to under this serving root")
    source.add_argument("--model-dir", help="use this SavedModel folder")
    recommend.add_argument("--users", required=True, metavar="FILE|all",
                           help="the users: a .txt of ids (one per line), a table with user_id (CSV/Parquet), "
                                "or 'all' for every user of --user-table")
    recommend.add_argument("--user-table", default="", help="user features keyed by user_id (CSV/Parquet), "
                                                            "as the pipeline's users table")
    recommend.add_argument("--k", type=int, default=BatchRecommendConfig.k, help="items per user")
    recommend.add_argument("--batch-size", type=int, default=BatchRecommendConfig.batch_size, help="users per model call")
    recommend.add_argument("--out", required=True, help="Parquet file to write (local or gs://)")
    recommend.add_argument("--require-manifest", action="store_true",
                           help="refuse a model without push's MANIFEST.json (pushed before push wrote one) "
                                "instead of using it unverified")
    recommend.add_argument("--report", default="", help="also write a Markdown report here (default: beside --out)")


def main(args: argparse.Namespace) -> int:
    from kubetfx.pipelines.recommender.components.batch_recommend import executor
    from kubetfx.components.common.errors import ServingError
    from kubetfx.pipelines.recommender.serving.loaded import LoadedModel
    from kubetfx.pipelines.recommender.serving.watcher import load_latest

    if args.users == "all" and not args.user_table:
        raise SystemExit("kubetfx recommend: --users all needs --user-table, the table whose users to recommend for")
    try:
        config = executor.BatchRecommendConfig(k=args.k, batch_size=args.batch_size)
    except ValueError as error:
        raise SystemExit(f"kubetfx recommend: {error}") from None
    if args.serving_root:
        model = load_latest(args.serving_root, require_manifest=args.require_manifest)
        if model is None:
            raise ServingError(f"no blessed model has been pushed to '{args.serving_root}' (it has no LATEST pointer)")
    else:
        model = LoadedModel(args.model_dir, args.model_dir.rstrip("/").rsplit("/", 1)[-1],
                            require_manifest=args.require_manifest)
    report = args.report or f"{args.out.removesuffix('.parquet')}.md"
    figures = executor.run(model.model_dir, model.version, args.out, report, user_table_uri=args.user_table,
                           user_ids_uri="" if args.users == "all" else args.users, config=config, model=model)
    print(f"wrote the top-{figures['k']} of {figures['users']:,} users to {figures['output']} "
          f"(model version {figures['model_version']}, {figures['users_per_second']:,} users/s"
          + (f"; {figures['users_not_in_table']:,} listed users lack features" if figures["users_not_in_table"] else "")
          + f"); report: {report}")
    return 0
