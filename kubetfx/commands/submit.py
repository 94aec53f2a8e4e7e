"""`kubetfx submit` (kubetfx.submit; README, "Submitting to Kubeflow and Vertex AI")."""
import argparse
import pathlib

from kubetfx.commands.compile import COMPILED_FILE, VERTEX_COMPILED_FILE

NAME = "submit"

# Run parameters `kubetfx submit` takes as flags of their own; any other goes through --param.
SUBMIT_PARAMETER_FLAGS = {"interactions_uri": "--interactions", "users_uri": "--users", "items_uri": "--items",
                          "serving_root": "--serving-root", "module_file": "--module-file", "train_steps": "--train-steps"}
# Where `kubetfx submit` looks when a flag is not given (read in main, never at import).
SUBMIT_ENVIRONMENT = {"host": "KFP_HOST", "token": "KFP_TOKEN", "cookie": "KFP_COOKIE", "namespace": "KFP_NAMESPACE",
                      "project": "GOOGLE_CLOUD_PROJECT", "region": "GOOGLE_CLOUD_REGION"}


def add_arguments(commands) -> None:
    from kubetfx.submit import RunConfig

    default = RunConfig(spec_path="")
    submit = commands.add_parser(NAME, help="upload the compiled spec and start a run on Kubeflow or Vertex AI")
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


def main(args: argparse.Namespace) -> int:
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
