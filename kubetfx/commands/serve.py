"""`kubetfx serve` (kubetfx.pipelines.recommender.serving.config.ServeConfig; README, "Serving and monitoring")."""
import argparse

NAME = "serve"


def add_arguments(commands) -> None:
    from kubetfx.pipelines.recommender.serving.config import LOOPBACK, RequestLogConfig, ServeConfig

    default = ServeConfig  # the dataclass's defaults, read as class attributes
    serve = commands.add_parser(NAME, help="serve the latest blessed model with KServe's model server")
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
    serve.add_argument("--require-manifest", action="store_true",
                       help="refuse a model without push's MANIFEST.json (pushed before push wrote one) instead of "
                            "serving it unverified; on reload the served model stays (push such a version again)")
    serve.add_argument("--request-log-rotate-seconds", type=float, default=RequestLogConfig.seconds_per_file,
                       help="a log file is closed this long after its first record, or at "
                            f"{RequestLogConfig.records_per_file:,} records")


def main(args: argparse.Namespace) -> int:
    from kubetfx.pipelines.recommender.serving import server
    from kubetfx.pipelines.recommender.serving.auth import read_token
    from kubetfx.pipelines.recommender.serving.config import RequestLogConfig, ServeConfig
    from kubetfx.pipelines.recommender.serving.request_log import read_salt

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
                             require_manifest=args.require_manifest,
                             auth_token=read_token(args.auth_token_file) if args.auth_token_file else "")
    except (OSError, ValueError) as error:
        raise SystemExit(f"kubetfx serve: {error}") from None
    server.serve(config)
    return 0
