"""`kubetfx monitor` (kubetfx.pipelines.recommender.components.monitor; README, "Serving and monitoring")."""
import argparse
import pathlib

NAME = "monitor"


def add_arguments(commands) -> None:
    from kubetfx.pipelines.recommender.components.monitor.config import MonitorConfig

    monitor = commands.add_parser(NAME, help="compare new data or the request log with training; "
                                             "exit 1 on drift or skew")
    monitor.add_argument("--statistics", required=True, help="the training run's validate statistics artifact")
    monitor.add_argument("--examples", required=True, help="the training run's ingest examples artifact")
    batch = monitor.add_mutually_exclusive_group(required=True)
    batch.add_argument("--interactions", help="new interaction data (CSV or Parquet)")
    batch.add_argument("--request-log", help="a request log folder of `kubetfx serve`")
    monitor.add_argument("--users", default="", help="user features of the new interactions")
    monitor.add_argument("--items", default="", help="item features of the new interactions")
    monitor.add_argument("--salt-file", default="", help="the request log's salt, to match logged users with training's")
    monitor.add_argument("--threshold", action="append", default=[], metavar="FEATURE=DISTANCE",
                         help="judge FEATURE against DISTANCE (default: the reference model's user features)")
    monitor.add_argument("--max-unknown-user-share", type=float, default=MonitorConfig.max_unknown_user_share)
    monitor.add_argument("--max-unknown-item-share", type=float, default=MonitorConfig.max_unknown_item_share)
    monitor.add_argument("--max-skew-share", type=float, default=MonitorConfig.max_skew_share)
    monitor.add_argument("--outcomes", default="", help="with --request-log: the interactions that followed "
                                                        "(user_id, item_id, timestamp), to judge what was served")
    monitor.add_argument("--outcome-window-hours", type=float, default=MonitorConfig.outcome_window_seconds / 3600,
                         help="interactions this long after an answer judge it")
    monitor.add_argument("--max-online-drop", type=float, default=MonitorConfig.max_online_drop,
                         help="largest relative drop of the latest day's online hit rate or nDCG that is not drift")
    monitor.add_argument("--out", default="build/monitor", help="folder for the report, monitor.json and statistics")
    monitor.add_argument("--retrain", action="store_true", help="on drift in new interactions, run the pipeline "
                                                                "locally on them (kfp.local)")
    monitor.add_argument("--serving-root", default="build/serving/recommender", help="where a retrained model is pushed")
    monitor.add_argument("--run-dir", default="build/retrain", help="pipeline root of the retraining run")


def main(args: argparse.Namespace) -> int:
    from kubetfx import retrain
    from kubetfx.pipelines.recommender.components.monitor import executor, sources
    from kubetfx.pipelines.recommender.components.monitor.config import DEFAULT_THRESHOLDS, MonitorConfig
    from kubetfx.pipelines.recommender.serving.request_log import read_salt

    config = MonitorConfig(
        thresholds=_thresholds(args.threshold) or DEFAULT_THRESHOLDS,
        max_unknown_user_share=args.max_unknown_user_share,
        max_unknown_item_share=args.max_unknown_item_share, max_skew_share=args.max_skew_share,
        salt=read_salt(args.salt_file) if args.salt_file else b"",
        outcome_window_seconds=args.outcome_window_hours * 3600, max_online_drop=args.max_online_drop)
    source = sources.BatchSource(interactions_uri=args.interactions or "", users_uri=args.users,
                                 items_uri=args.items, request_log_uri=args.request_log or "")
    retrainer = retrain.local(args.run_dir, str(pathlib.Path(args.serving_root).resolve())) if args.retrain else None
    out = pathlib.Path(args.out)
    result = executor.run(args.statistics, args.examples, source, str(out / "result"), str(out / "report.html"),
                          config, retrain=retrainer, outcomes_uri=args.outcomes)
    print(f"verdict: {result['verdict']}" + "".join(f"\n  {reason}" for reason in result["reasons"]))
    print(f"retraining: {result['retrain_run'] or ('due' if result['retrain'] else 'not needed')}")
    print(f"report: {out / 'report.html'}")
    return 0 if result["verdict"] == executor.OK else 1


def _thresholds(pairs: list[str]) -> dict[str, float]:
    thresholds = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        try:
            thresholds[name] = float(value)
        except ValueError:
            raise SystemExit(f"kubetfx monitor: --threshold '{pair}' is not FEATURE=DISTANCE") from None
    return thresholds
