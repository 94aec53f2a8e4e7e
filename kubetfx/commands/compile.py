"""`kubetfx compile`: the pipeline specs users upload to Kubeflow or Vertex AI (README, "Running on a
cluster", "Distributed training")."""
import argparse
import pathlib

from kubetfx.version import __version__

NAME = "compile"
DEFAULT_IMAGE_REPO = "localhost:5000"
COMPILED_FILE = "recommender.yaml"
VERTEX_COMPILED_FILE = "recommender-vertex.yaml"
MONITOR_COMPILED_FILE = "monitor.yaml"
RANKING_COMPILED_FILE = "ranking.yaml"  # one spec for Kubeflow and Vertex AI: every step a plain container


def add_arguments(commands) -> None:
    compile_ = commands.add_parser(NAME, help="compile the pipeline spec users upload to Kubeflow")
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


def main(args: argparse.Namespace) -> int:
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
    from kubetfx.pipelines.ranking import pipeline as ranking_pipeline

    target = out / RANKING_COMPILED_FILE
    compiler.Compiler().compile(ranking_pipeline.create_pipeline(images.cpu), str(target))
    print(f"wrote {target}")
    return 0


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
