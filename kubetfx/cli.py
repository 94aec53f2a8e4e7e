"""`kubetfx`: run the reference pipeline locally, compile it for a cluster."""
import argparse
import json
import pathlib
import sys

from kubetfx.commands import promote, recommend, rollback
from kubetfx.version import __version__

DEFAULT_IMAGE_REPO = "localhost:5000"
DEFAULT_DATA_CACHE = "~/.cache/kubetfx"
COMPILED_FILE = "recommender.yaml"
VERTEX_COMPILED_FILE = "recommender-vertex.yaml"
MONITOR_COMPILED_FILE = "monitor.yaml"


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
    run.add_argument("--runner", choices=["docker", "subprocess"], default="subprocess",
                     help="docker: each step in IMAGE's container through kfp.local's DockerRunner (DOCKER_HOST), "
                          "as on a cluster; subprocess: each step in this environment (quicker to iterate)")
    run.add_argument("--image", default="", help="with --runner docker: the step image, best by digest "
                                                  "(`make run` builds it and passes it)")
    run.add_argument("--param", action="append", default=[], metavar="NAME=JSON",
                     help="any other pipeline parameter, e.g. --param 'thresholds={\"ndcg@10\": 0.2}'")

    compile_ = commands.add_parser("compile", help="compile the pipeline spec users upload to Kubeflow")
    compile_.add_argument("--image-repo", default=DEFAULT_IMAGE_REPO, help="registry path of the kubetfx images")
    compile_.add_argument("--image-tag", default=__version__)
    compile_.add_argument("--cpu-digest", default="", help="sha256:... of the pushed CPU image, to pin it")
    compile_.add_argument("--gpu-digest", default="", help="sha256:... of the pushed GPU trainer image, to pin it")
    compile_.add_argument("--images-file", default="",
                          help="digests `make push-images` recorded (build/images.json), to pin both images")
    compile_.add_argument("--out", default="compile", help="folder for the compiled specs")
    compile_.add_argument("--batch-recommend", action="store_true",
                          help="add the batch recommendation step after push (every user of users_uri, to Parquet)")
    _add_training_arguments(compile_)
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
    bench.add_argument("--items", type=int, default=0,
                       help="products in the catalogue at every size (default: one per 60 interactions, growing with the data)")
    bench.add_argument("--evaluate-sizes", default="", help="eval example counts for evaluate vs model.evaluate, e.g. 25000,1000000")
    _add_serve_arguments(commands)
    for command in (recommend, promote, rollback):
        command.add_arguments(commands)
    _add_monitor_arguments(commands)
    _add_submit_arguments(commands)
    return parser


def _add_monitor_arguments(commands) -> None:
    """`kubetfx monitor` (kubetfx.components.monitor; README, "Serving and monitoring")."""
    from kubetfx.components.monitor.config import MonitorConfig

    monitor = commands.add_parser("monitor", help="compare new data or the request log with training; "
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


def _add_serve_arguments(commands) -> None:
    """`kubetfx serve` (kubetfx.serving.config.ServeConfig; README, "Serving and monitoring")."""
    from kubetfx.serving.config import LOOPBACK, RequestLogConfig, ServeConfig

    default = ServeConfig  # the dataclass's defaults, read as class attributes
    serve = commands.add_parser("serve", help="serve the latest blessed model with KServe's model server")
    source = serve.add_mutually_exclusive_group(required=True)
    source.add_argument("--serving-root", help="where push puts blessed models; follows LATEST, reloading on each push")
    source.add_argument("--model-dir", help="one SavedModel folder to serve as it is (e.g. KServe's /mnt/models)")
    serve.add_argument("--model-version", default="", help="the version --model-dir answers as (default: its folder name)")
    serve.add_argument("--host", default=LOOPBACK, help="interface to listen on (0.0.0.0 inside a container)")
    serve.add_argument("--port", type=int, default=default.port)
    serve.add_argument("--poll-seconds", type=float, default=default.poll_seconds, help="how often LATEST is read")
    serve.add_argument("--max-instances", type=int, default=default.max_instances, help="instances per request")
    serve.add_argument("--max-body-bytes", type=int, default=default.max_body_bytes)
    serve.add_argument("--request-log-root", default="", help="folder or gs:// prefix for the request log (none: off)")
    serve.add_argument("--request-log-salt-file", default="",
                       help="file holding the salt that user ids are hashed with (at least 16 bytes)")
    serve.add_argument("--auth-token-file", default="",
                       help="require `Authorization: Bearer <token>` with the token in this file (e.g. a mounted "
                            "Kubernetes Secret); health probes stay open")
    serve.add_argument("--request-log-rotate-seconds", type=float, default=RequestLogConfig.seconds_per_file,
                       help="a log file is closed this long after its first record, or at "
                            f"{RequestLogConfig.records_per_file:,} records")


# Run parameters `kubetfx submit` takes as flags of their own; any other goes through --param.
SUBMIT_PARAMETER_FLAGS = {"interactions_uri": "--interactions", "users_uri": "--users", "items_uri": "--items",
                          "serving_root": "--serving-root", "module_file": "--module-file", "train_steps": "--train-steps"}
# Where `kubetfx submit` looks when a flag is not given (read in _submit, never at import).
SUBMIT_ENVIRONMENT = {"host": "KFP_HOST", "token": "KFP_TOKEN", "cookie": "KFP_COOKIE", "namespace": "KFP_NAMESPACE",
                      "project": "GOOGLE_CLOUD_PROJECT", "region": "GOOGLE_CLOUD_REGION"}


def _add_submit_arguments(commands) -> None:
    """`kubetfx submit` (kubetfx.submit; README, "Submitting to Kubeflow and Vertex AI")."""
    from kubetfx.submit import RunConfig

    default = RunConfig(spec_path="")
    submit = commands.add_parser("submit", help="upload the compiled spec and start a run on Kubeflow or Vertex AI")
    submit.add_argument("--target", choices=["kfp", "vertex"], default="kfp")
    submit.add_argument("--spec", default="",
                        help=f"compiled spec (default: compile/{COMPILED_FILE}; vertex: compile/{VERTEX_COMPILED_FILE})")
    submit.add_argument("--pipeline-root", default="",
                        help="the run's artifacts; gs:// lets local files be uploaded (vertex: required)")
    parameters = submit.add_argument_group("run parameters (the compiled spec's; local files go to the pipeline root)")
    for name, flag in SUBMIT_PARAMETER_FLAGS.items():
        parameters.add_argument(flag, dest=name, help=f"pipeline parameter {name}")
    parameters.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="any parameter, e.g. --param top_k='[5, 10]' (typed as the spec declares)")
    run = submit.add_argument_group("the run")
    run.add_argument("--run-name", default="", help="default: <pipeline> <version> <time>")
    run.add_argument("--experiment", default="", help="created when missing (KFP multi-user default: Default)")
    run.add_argument("--schedule", default="", metavar="CRON",
                     help="a recurring run instead: KFP '0 0 3 * * *' (seconds first), Vertex '0 3 * * *'")
    run.add_argument("--service-account", default="", help="Kubernetes service account (kfp) or e-mail (vertex)")
    run.add_argument("--wait", action="store_true", help="follow the run; exit 1 when it fails")
    run.add_argument("--timeout", type=float, default=default.timeout_s, help="seconds --wait waits (0: no limit)")
    run.add_argument("--poll-seconds", type=float, default=default.poll_s)
    kfp = submit.add_argument_group("Kubeflow Pipelines (--target kfp)")
    kfp.add_argument("--host", default="", help="API server, e.g. http://localhost:8080 (default: $KFP_HOST)")
    kfp.add_argument("--ui-host", default="", help="the UI, for links (default: the host)")
    kfp.add_argument("--token", default="", help="bearer token (default: $KFP_TOKEN)")
    kfp.add_argument("--cookie", default="", help="e.g. authservice_session=... (default: $KFP_COOKIE)")
    kfp.add_argument("--in-cluster-token", action="store_true",
                     help="the service account token KFP projects into pods (kfp.client.ServiceAccountTokenVolumeCredentials)")
    kfp.add_argument("--token-path", default="", help="with --in-cluster-token: where the token is")
    kfp.add_argument("--namespace", default="", help="profile namespace of a multi-user install (default: $KFP_NAMESPACE)")
    kfp.add_argument("--ca-cert", default="", help="CA bundle of the host's TLS certificate")
    vertex = submit.add_argument_group("Vertex AI (--target vertex)")
    vertex.add_argument("--project", default="", help="default: $GOOGLE_CLOUD_PROJECT")
    vertex.add_argument("--region", default="", help="default: $GOOGLE_CLOUD_REGION")
    vertex.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    vertex.add_argument("--no-cache", action="store_true", help="run every step (default: caching as compiled)")


def _add_training_arguments(compile_: argparse.ArgumentParser) -> None:
    """Where the train step runs (kubetfx.config.TrainingConfig; README, "Distributed training")."""
    from kubetfx.config import TrainingConfig

    default = TrainingConfig()
    group = compile_.add_argument_group("train step placement (resources are per worker)")
    group.add_argument("--workers", type=int, default=default.workers,
                       help="workers; more than 1: a TFJob on Kubeflow, worker pools on Vertex AI")
    group.add_argument("--gpu-count", type=int, default=default.gpu_count, help="GPUs per worker; 0 for none")
    group.add_argument("--gpu-type", default=default.gpu_type,
                       help="GPU model, e.g. nvidia-tesla-a100 or nvidia-l4 (default: any GPU node; a T4 on Vertex AI)")
    group.add_argument("--gpu-resource", default=default.gpu_resource, help="the GPUs' Kubernetes resource name")
    group.add_argument("--gpu-type-label", default=default.gpu_type_label,
                       help="node label whose value is the GPU model")
    group.add_argument("--cpu", dest="cpu_request", default=default.cpu_request, help="CPU request")
    group.add_argument("--cpu-limit", default=default.cpu_limit, help="CPU limit (default: none)")
    group.add_argument("--memory", dest="memory_request", default=default.memory_request, help="memory request")
    group.add_argument("--memory-limit", default=default.memory_limit, help="memory limit (default: the request)")
    group.add_argument("--node-selector", dest="node_selectors", action="append", default=[], metavar="KEY=VALUE")
    group.add_argument("--toleration", dest="tolerations", action="append", default=[],
                       metavar="KEY[=VALUE][:EFFECT]", help="e.g. nvidia.com/gpu:NoSchedule")
    group.add_argument("--machine-type", default=default.machine_type, help="Vertex AI machine type of each worker")
    group.add_argument("--namespace", default=default.namespace, help="TFJob namespace (default: the pipeline's)")
    group.add_argument("--service-account", default=default.service_account, help="TFJob pods' service account")
    group.add_argument("--max-restarts", type=int, default=default.max_restarts,
                       help="TFJob pod restarts before the step fails")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from kubetfx.components.common.errors import KubetfxError

    try:
        handlers = {"run": _run, "compile": _compile, "generate": _generate, "bench": _bench,
                    "serve": _serve, "monitor": _monitor, "submit": _submit}
        handlers.update({command.NAME: command.main for command in (recommend, promote, rollback)})
        return handlers[args.command](args)
    except KubetfxError as error:
        print(f"kubetfx: {error}", file=sys.stderr)
        return 2


def _images(args):
    from kubetfx import images as image_builds
    from kubetfx.config import Images

    images = Images(repo=args.image_repo, tag=args.image_tag, cpu_digest=args.cpu_digest, gpu_digest=args.gpu_digest)
    if not args.images_file:
        return images
    try:
        return image_builds.pinned(images, image_builds.read_images_file(args.images_file))
    except ValueError as error:
        raise SystemExit(f"kubetfx compile: {error}") from None


def _training(args):
    import dataclasses

    from kubetfx.config import Toleration, TrainingConfig

    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(TrainingConfig)}
    try:
        values["node_selectors"] = dict(_key_value(pair) for pair in args.node_selectors)
        values["tolerations"] = tuple(Toleration.parse(text) for text in args.tolerations)
        return TrainingConfig(**values)
    except ValueError as error:
        raise SystemExit(f"kubetfx compile: {error}") from None


def _key_value(pair: str) -> tuple[str, str]:
    key, separator, value = pair.partition("=")
    if not key or not separator:
        raise ValueError(f"node selector '{pair}' is not KEY=VALUE")
    return key, value


def _compile(args) -> int:
    from kfp import compiler

    from kubetfx.pipelines.recommender import pipeline

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images, training = _images(args), _training(args)
    for platform, file_name in ((pipeline.KUBEFLOW, COMPILED_FILE), (pipeline.VERTEX, VERTEX_COMPILED_FILE)):
        target = out / file_name
        compiler.Compiler().compile(pipeline.create_pipeline(images, training=training, platform=platform,
                                                             batch_recommend=args.batch_recommend), str(target))
        print(f"wrote {target}")
    from kubetfx.pipelines.monitor import pipeline as monitor_pipeline

    target = out / MONITOR_COMPILED_FILE
    compiler.Compiler().compile(monitor_pipeline.create_pipeline(images, training=training), str(target))
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


def _typed_arguments(arguments: dict, pairs: list[str]) -> dict:
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


def _run(args) -> int:
    from kubetfx.config import Images
    from kubetfx.pipelines import local_runner
    from kubetfx.pipelines.recommender import pipeline

    arguments = {**_data_arguments(args), "serving_root": str(pathlib.Path(args.serving_root).resolve())}
    if args.module_file:
        arguments["module_file"] = args.module_file
    if args.train_steps:
        arguments["train_steps"] = args.train_steps
    arguments = _typed_arguments(arguments, args.param)
    in_containers = args.runner == "docker"
    if in_containers and not args.image:
        raise SystemExit("kubetfx run: --runner docker needs --image (`make run` builds the image and passes it)")
    recommender = pipeline.create_pipeline(Images(repo="local", every_step=args.image))
    summary = local_runner.run(recommender, arguments, args.run_dir, in_containers=in_containers)
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
    if args.evaluate_sizes:
        eval_sizes = tuple(int(size) for size in args.evaluate_sizes.split(","))
        evaluation = bench.evaluate_bench(eval_sizes, args.out)
        pathlib.Path(args.out, "evaluate.json").write_text(json.dumps(evaluation, indent=2) + "\n")
        print(json.dumps(evaluation, indent=2))
    if not sizes:
        return 0
    results = bench.run(bench.BenchConfig(sizes=sizes, out_dir=args.out, baselines=not args.no_baselines, items=args.items))
    print(bench.markdown(results))
    print(f"results: {args.out}/results.json")
    return 0


def _monitor(args) -> int:
    from kubetfx.components.monitor import executor, retrain, sources
    from kubetfx.components.monitor.config import DEFAULT_THRESHOLDS, MonitorConfig
    from kubetfx.serving.request_log import read_salt

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


def _serve(args) -> int:
    from kubetfx.serving import server
    from kubetfx.serving.auth import read_token
    from kubetfx.serving.config import RequestLogConfig, ServeConfig
    from kubetfx.serving.request_log import read_salt

    try:
        request_log = None
        if args.request_log_root or args.request_log_salt_file:
            salt = read_salt(args.request_log_salt_file) if args.request_log_salt_file else b""
            request_log = RequestLogConfig(log_root=args.request_log_root, salt=salt,
                                           seconds_per_file=args.request_log_rotate_seconds)
        config = ServeConfig(serving_root=args.serving_root or "", model_dir=args.model_dir or "",
                             model_version=args.model_version, host=args.host,
                             port=args.port, poll_seconds=args.poll_seconds, max_instances=args.max_instances,
                             max_body_bytes=args.max_body_bytes, request_log=request_log,
                             auth_token=read_token(args.auth_token_file) if args.auth_token_file else "")
    except (OSError, ValueError) as error:
        raise SystemExit(f"kubetfx serve: {error}") from None
    server.serve(config)
    return 0


def _submit(args) -> int:
    """Typed configuration from the flags, then the environment (SUBMIT_ENVIRONMENT), and the submission."""
    import datetime
    import os

    from kubetfx import submit

    environ = {name: getattr(args, name) or os.environ.get(variable, "") for name, variable in SUBMIT_ENVIRONMENT.items()}
    parameters = {name: getattr(args, name) for name in SUBMIT_PARAMETER_FLAGS if getattr(args, name) is not None}
    parameters.update(_pairs(args.param, "--param"))
    spec = args.spec or str(pathlib.Path("compile") / (VERTEX_COMPILED_FILE if args.target == "vertex" else COMPILED_FILE))
    run = submit.RunConfig(spec_path=spec, parameters=parameters, pipeline_root=args.pipeline_root,
                           run_name=args.run_name, experiment=args.experiment, schedule=args.schedule,
                           service_account=args.service_account, wait=args.wait, timeout_s=args.timeout,
                           poll_s=args.poll_seconds)
    now, revision = datetime.datetime.now(datetime.timezone.utc), _git_revision()
    if args.target == "vertex":
        vertex = submit.VertexConfig(project=environ["project"], region=environ["region"],
                                     labels=_pairs(args.label, "--label"), enable_caching=False if args.no_cache else None)
        return submit.submit_vertex(run, vertex, revision, now, lambda: _storage_client(vertex.project))
    credentials = None
    if args.in_cluster_token:
        from kfp.client import ServiceAccountTokenVolumeCredentials

        credentials = ServiceAccountTokenVolumeCredentials(path=args.token_path or None)
    kfp = submit.KfpConfig(host=environ["host"], token=environ["token"], credentials=credentials, cookie=environ["cookie"],
                           namespace=environ["namespace"], ui_host=args.ui_host, ssl_ca_cert=args.ca_cert)
    return submit.submit_kfp(run, kfp, revision, now, _storage_client)


def _pairs(pairs: list[str], flag: str) -> dict[str, str]:
    """NAME=VALUE texts as a dict; the values stay text (submit types parameters as the spec declares)."""
    values = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not name or not separator:
            raise SystemExit(f"kubetfx submit: {flag} '{pair}' is not NAME=VALUE")
        values[name] = value
    return values


def _git_revision() -> str:
    """The checkout's short commit, which names pipeline versions; empty outside a git checkout."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _storage_client(project: str = ""):
    """A google-cloud-storage client with Application Default Credentials (made only when files are uploaded)."""
    from google.cloud import storage

    return storage.Client(project=project or None)
