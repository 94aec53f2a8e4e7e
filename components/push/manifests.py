"""What a cluster needs to serve a pushed version, written by push beside its other outputs:

- a KServe `InferenceService` (`serving.kserve.io/v1beta1`) whose predictor is a custom container
  running `kubetfx serve` on the project's image; KServe's storage initializer copies the version
  named by `STORAGE_URI` to /mnt/models before the container starts. `kubectl apply -f` it: a
  later push writes the same service with the newer version, which KServe rolls out.
- for Vertex AI, the `UploadModelRequest` of `google.cloud.aiplatform_v1` (a Model with the same
  container; Vertex AI copies `artifact_uri` and passes its copy in `AIP_STORAGE_URI`).

Both are built from the client libraries' own objects (the `kserve` package's models and the
`aiplatform_v1` types), so a field they do not know cannot be written, and nothing touches the
network. The custom container (not KServe's TensorFlow runtime) keeps the contract's extras:
exclusions, k per request, the request log.
"""
import dataclasses

import yaml

from kubetfx.components.common import fs, names

STORAGE_URI_ENV = "STORAGE_URI"  # KServe injects its storage initializer for a custom container with this variable
ALL_INTERFACES = "0.0.0.0"  # inside a container the server must listen beyond loopback
# A Kubernetes Secret the InferenceService mounts (when present) for the request log's salt:
# `kubectl create secret generic kubetfx-request-log-salt --from-file=salt=<file>`.
SALT_SECRET = "kubetfx-request-log-salt"
SALT_SECRET_MOUNT = "/etc/kubetfx/request-log-salt"
SALT_SECRET_FILE = f"{SALT_SECRET_MOUNT}/salt"
# The pipeline's (and push's) parameters that configure the served model's request log.
REQUEST_LOG_ROOT = "request_log_root"
REQUEST_LOG_SALT_URI = "request_log_salt_uri"
# The pipeline's (and push's) parameter written as the predictor's `canaryTrafficPercent`, which
# KServe's InferenceService declares an integer (int64): a share of traffic, 0 to 100.
CANARY_TRAFFIC_PERCENT = "canary_traffic_percent"
# A Kubernetes Secret holding the bearer token `kubetfx serve` requires when auth is on:
# `kubectl create secret generic kubetfx-serving-token --from-file=token=<file>`. Not optional:
# without it the pod does not start, rather than serving without auth.
TOKEN_SECRET = "kubetfx-serving-token"
TOKEN_SECRET_MOUNT = "/etc/kubetfx/serving-token"
TOKEN_SECRET_FILE = f"{TOKEN_SECRET_MOUNT}/token"
CONTAINER_NAME = "kserve-container"  # KServe's name for the predictor's serving container
READY_ROUTE = f"/v2/models/{names.SERVING_MODEL_NAME}/ready"
PREDICT_ROUTE = f"/v1/models/{names.SERVING_MODEL_NAME}:predict"
VERSION_ANNOTATION = "kubetfx/model-version"


@dataclasses.dataclass(frozen=True)
class DeployConfig:
    """How the pushed model is served on a cluster."""

    serving_image: str  # the project's CPU image, which has `kubetfx serve`
    vertex_parent: str = ""  # projects/<project>/locations/<region>; empty: set it before sending the request
    cpu: str = "1"
    memory: str = "2Gi"
    request_log_root: str = ""  # gs:// prefix (or a path the container writes) for the request log; empty: none
    request_log_salt_uri: str = ""  # file or gs:// object with the salt; SALT_SECRET_FILE on KServe
    require_token: bool = False  # serve with --auth-token-file, the token from the Secret TOKEN_SECRET (KServe)
    # KServe: the share of traffic (0 to 100) the new version gets while the previous ready revision keeps
    # the rest; 0: the new version takes all traffic once ready. Promote by applying the service with 100.
    canary_traffic_percent: int = 0

    def __post_init__(self):
        problem = request_log_problem(self.request_log_root, self.request_log_salt_uri)
        if problem:
            raise ValueError(problem)
        problem = canary_problem(self.canary_traffic_percent)
        if problem:
            raise ValueError(problem)


def request_log_problem(log_root: str, salt_uri: str) -> str:
    """Why a request log configured so cannot start (empty when it can): checked by push, and by
    `kubetfx submit` before anything is sent."""
    if log_root and not salt_uri:
        return (f"{REQUEST_LOG_ROOT} is '{log_root}' but {REQUEST_LOG_SALT_URI} is empty: the request log hashes "
                f"user ids with a salt; pass a gs:// object holding it, or '{SALT_SECRET_FILE}' on KServe after "
                f"`kubectl create secret generic {SALT_SECRET} --from-file=salt=<file>`")
    return ""


def canary_problem(percent) -> str:
    """Why `percent` cannot be KServe's canaryTrafficPercent (empty when it can): checked by push,
    and by `kubetfx run` and `kubetfx submit` before anything runs or is sent."""
    if isinstance(percent, int) and not isinstance(percent, bool) and 0 <= percent <= 100:
        return ""
    return (f"{CANARY_TRAFFIC_PERCENT} is {percent!r}; it is KServe's canaryTrafficPercent, the new version's share "
            "of traffic: a whole number from 0 to 100 (0: all traffic once the new version is ready)")


def serve_command(model_dir: str, version: str, config: DeployConfig | None = None) -> list[str]:
    """`kubetfx serve` of one fixed model folder, answering as `version`, on the container's port,
    logging requests when `config` names a request log.

    The folder must hold the MANIFEST.json push wrote in it (`--require-manifest`): a copy that
    lost it, or a folder that never had one, is not served unverified."""
    command = ["python3", "-m", "kubetfx", "serve", "--model-dir", model_dir, "--model-version", version,
               "--host", ALL_INTERFACES, "--port", str(names.SERVING_PORT), "--require-manifest"]
    if config and config.request_log_root:
        command += ["--request-log-root", config.request_log_root, "--request-log-salt-file", config.request_log_salt_uri]
    if config and config.require_token:
        command += ["--auth-token-file", TOKEN_SECRET_FILE]
    return command


def inference_service(model_uri: str, version: str, config: DeployConfig):
    """The InferenceService as the kserve package's `V1beta1InferenceService`."""
    from kserve import V1beta1InferenceService, V1beta1InferenceServiceSpec, V1beta1PredictorSpec, constants
    from kubernetes.client import (V1Container, V1ContainerPort, V1EnvVar, V1HTTPGetAction, V1ObjectMeta, V1Probe,
                                   V1ResourceRequirements, V1SecretVolumeSource, V1Volume, V1VolumeMount)

    command = serve_command(names.SERVING_MOUNT, version, config)
    volumes = mounts = None
    if config.request_log_root:
        # Optional, so that a salt kept in gs:// needs no Secret; the salt file's own check names what is missing.
        volumes = [V1Volume(name=SALT_SECRET, secret=V1SecretVolumeSource(secret_name=SALT_SECRET, optional=True))]
        mounts = [V1VolumeMount(name=SALT_SECRET, mount_path=SALT_SECRET_MOUNT, read_only=True)]
    if config.require_token:
        volumes = (volumes or []) + [V1Volume(name=TOKEN_SECRET, secret=V1SecretVolumeSource(secret_name=TOKEN_SECRET))]
        mounts = (mounts or []) + [V1VolumeMount(name=TOKEN_SECRET, mount_path=TOKEN_SECRET_MOUNT, read_only=True)]
    container = V1Container(
        name=CONTAINER_NAME, image=config.serving_image, command=command[:3], args=command[3:],
        env=[V1EnvVar(name=STORAGE_URI_ENV, value=model_uri)],
        ports=[V1ContainerPort(container_port=names.SERVING_PORT, protocol="TCP")],
        readiness_probe=V1Probe(http_get=V1HTTPGetAction(path=READY_ROUTE, port=names.SERVING_PORT)),
        resources=V1ResourceRequirements(requests={"cpu": config.cpu, "memory": config.memory},
                                         limits={"memory": config.memory}),
        volume_mounts=mounts,
    )
    predictor = V1beta1PredictorSpec(containers=[container], volumes=volumes,
                                     canary_traffic_percent=config.canary_traffic_percent or None)
    return V1beta1InferenceService(
        api_version=constants.KSERVE_V1BETA1, kind=constants.KSERVE_KIND_INFERENCESERVICE,
        metadata=V1ObjectMeta(name=names.SERVING_MODEL_NAME, annotations={VERSION_ANNOTATION: version}),
        spec=V1beta1InferenceServiceSpec(predictor=predictor),
    )


def vertex_upload_request(model_uri: str, version: str, config: DeployConfig):
    """The Vertex AI `UploadModelRequest` (aiplatform_v1) for the same container."""
    from google.cloud.aiplatform_v1.types import Model, ModelContainerSpec, Port, UploadModelRequest

    # Vertex AI endpoints admit only callers with IAM rights on them, and mount no Kubernetes Secret.
    command = serve_command("$(AIP_STORAGE_URI)", version, dataclasses.replace(config, require_token=False))
    container = ModelContainerSpec(
        image_uri=config.serving_image, command=command[:3], args=command[3:], ports=[Port(container_port=names.SERVING_PORT)],
        predict_route=PREDICT_ROUTE, health_route=READY_ROUTE,
    )
    model = Model(display_name=names.SERVING_MODEL_NAME, artifact_uri=model_uri, container_spec=container,
                  version_aliases=[f"v{version}"], labels={"model-version": version})
    return UploadModelRequest(parent=config.vertex_parent, model=model)


def write(deploy_uri: str, model_uri: str, version: str, config: DeployConfig) -> dict:
    """Writes both under `deploy_uri`; returns their paths."""
    from google.cloud.aiplatform_v1.types import UploadModelRequest
    from kserve import ApiClient

    service = ApiClient().sanitize_for_serialization(inference_service(model_uri, version, config))
    paths = {"inference_service": fs.join(deploy_uri, names.INFERENCE_SERVICE_FILE),
             "vertex_upload_request": fs.join(deploy_uri, names.VERTEX_UPLOAD_FILE)}
    fs.write_text(paths["inference_service"], yaml.safe_dump(service, sort_keys=False))
    request = vertex_upload_request(model_uri, version, config)
    fs.write_text(paths["vertex_upload_request"],
                  UploadModelRequest.to_json(request, always_print_fields_with_no_presence=False) + "\n")
    return paths
