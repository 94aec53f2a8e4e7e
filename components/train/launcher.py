"""The trainer's `tfjob` placement (several workers on self-hosted Kubeflow): creates a TFJob,
follows it to the end and deletes it.

The launcher runs in the train step's own (small) pod. It streams the job's state into the step's
log, fails the step when the job fails (after showing the failed pods' last log lines, which
deleting the job would lose), and deletes the job however the step ends, SIGTERM included (what a
cancelled run sends). The workers read and write the step's artifacts by URI, so these must be on
object storage that every pod reaches.
"""
import contextlib
import dataclasses
import signal
import time

from kubetfx.components.common import fs, names, timing, user_module
from kubetfx.components.common.errors import TrainingJobError
from kubetfx.components.train import tfjob
from kubetfx.components.train.args import TrainArgs
from kubetfx.config import TrainingConfig

POLL_SECONDS = 15.0
LOG_TAIL_LINES = 40
# TensorFlow reads gs:// itself; KFP's default MinIO root (minio://) is out of its reach.
SHARED_SCHEMES = ("gs://",)
SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


class Cancelled(Exception):
    """The step was told to stop (SIGTERM), as when its run is cancelled."""


@dataclasses.dataclass(frozen=True)
class KubernetesApis:
    """The two clients the launcher needs: TFJobs through `custom`, pods through `core`."""

    custom: object
    core: object

    @classmethod
    def connect(cls) -> "KubernetesApis":
        """Clients with the pod's service account, or the local kubeconfig outside a cluster."""
        from kubernetes import client, config

        try:
            config.load_incluster_config()
        except config.ConfigException:
            config.load_kube_config()
        return cls(custom=client.CustomObjectsApi(), core=client.CoreV1Api())


def own_namespace() -> str:
    """The namespace of the pod this runs in."""
    with open(SERVICE_ACCOUNT_NAMESPACE_FILE) as f:
        return f.read().strip()


def launch(args: TrainArgs, image: str, training: TrainingConfig, namespace: str, apis: KubernetesApis,
           poll_seconds: float = POLL_SECONDS) -> dict:
    """Trains with `training.workers` workers of `image` on `args`; returns the chief's figures."""
    check_reachable(args)
    args = dataclasses.replace(args, figures=fs.join(args.model_run, names.TRAIN_FIGURES_FILE))
    job = tfjob.manifest(tfjob.job_name(args.model), namespace, image, args, training)
    run(job, apis, poll_seconds)
    return fs.read_json(args.figures)


def check_reachable(args: TrainArgs) -> None:
    """Fails unless every input and output is on object storage the workers' pods can reach."""
    uris = [args.transformed_examples, args.transform_graph, args.schema, args.model, args.model_run, args.report]
    uris += [uri for uri in (args.best_hyperparameters,) if uri]
    uris += [module for module in (args.module_file, args.model_check.rpartition(":")[0]) if user_module.is_path(module)]
    unreachable = [uri for uri in uris if not uri.startswith(SHARED_SCHEMES)]
    if unreachable:
        raise TrainingJobError(
            f"multi-worker training reads and writes artifacts from every worker's pod, so they must be on "
            f"{' or '.join(SHARED_SCHEMES)} object storage; these are not: {unreachable}. Set the pipeline root "
            "to a bucket (and the module file to a bucket or an installed module)")


def run(job: dict, apis: KubernetesApis, poll_seconds: float = POLL_SECONDS) -> dict:
    """Creates `job`, follows it until it succeeds or fails, and deletes it in any case."""
    namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
    with _sigterm_raises_cancelled():
        try:
            _create(apis.custom, job)
            final = follow(apis.custom, namespace, name, poll_seconds)
            failed = _condition(final, "Failed")
            if failed:
                _log_pod_tails(apis.core, namespace, name)
                raise TrainingJobError(f"TFJob {namespace}/{name} failed: {failed.get('message', '')}")
            return final
        finally:
            delete(apis.custom, namespace, name)


def _create(custom, job: dict) -> None:
    from kubernetes.client.rest import ApiException

    namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
    try:
        custom.create_namespaced_custom_object(tfjob.GROUP, tfjob.VERSION, namespace, tfjob.PLURAL, job)
        _log("created TFJob %s/%s: %s", namespace, name, ", ".join(
            f"{spec['replicas']} {kind}" for kind, spec in job["spec"]["tfReplicaSpecs"].items()))
    except ApiException as error:
        if error.status != 409:
            raise TrainingJobError(f"cannot create TFJob {namespace}/{name}: {error.status} {error.reason}: "
                                   f"{error.body}") from None
        # The step's pod was restarted while its job ran on: follow that job rather than start over.
        _log("TFJob %s/%s exists already: following it", namespace, name)


def follow(custom, namespace: str, name: str, poll_seconds: float) -> dict:
    """Polls the job, logging each change of state, until it has succeeded or failed; returns it."""
    last_state = None
    while True:
        job = custom.get_namespaced_custom_object(tfjob.GROUP, tfjob.VERSION, namespace, tfjob.PLURAL, name)
        state = describe(job)
        if state != last_state:
            _log("TFJob %s: %s", name, state)
            last_state = state
        if _condition(job, "Succeeded") or _condition(job, "Failed"):
            return job
        time.sleep(poll_seconds)


def describe(job: dict) -> str:
    """One line of the job's state: its latest condition and each replica type's pods."""
    status = job.get("status") or {}
    conditions = [c for c in status.get("conditions") or [] if c.get("status") == "True"]
    latest = conditions[-1] if conditions else {"type": "Pending"}
    replicas = "; ".join(
        f"{kind}: " + ", ".join(f"{count} {phase}" for phase, count in sorted(counts.items())
                                if phase in ("active", "succeeded", "failed") and count)
        for kind, counts in sorted((status.get("replicaStatuses") or {}).items()))
    reason = f" ({latest['reason']})" if latest.get("reason") else ""
    return f"{latest['type']}{reason}" + (f" [{replicas}]" if replicas else "")


def _condition(job: dict, condition_type: str) -> dict | None:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type and condition.get("status") == "True":
            return condition
    return None


def _log_pod_tails(core, namespace: str, name: str) -> None:
    pods = core.list_namespaced_pod(namespace, label_selector=f"{tfjob.JOB_NAME_LABEL}={name}")
    for pod in pods.items:
        tail = core.read_namespaced_pod_log(pod.metadata.name, namespace, container=tfjob.CONTAINER,
                                            tail_lines=LOG_TAIL_LINES)
        _log("last lines of pod %s (%s):\n%s", pod.metadata.name, pod.status.phase, tail)


def delete(custom, namespace: str, name: str) -> None:
    """Deletes the job and, through it, its pods; a job already gone is fine."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    try:
        custom.delete_namespaced_custom_object(tfjob.GROUP, tfjob.VERSION, namespace, tfjob.PLURAL, name,
                                               body=client.V1DeleteOptions(propagation_policy="Background"))
        _log("deleted TFJob %s/%s", namespace, name)
    except ApiException as error:
        if error.status != 404:
            raise


@contextlib.contextmanager
def _sigterm_raises_cancelled():
    """Turns SIGTERM into `Cancelled`, so that clean-up runs when the step is stopped."""
    def cancel(signum, frame):
        raise Cancelled("the train step was stopped (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, cancel)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _log(message: str, *values) -> None:
    timing.configure_logging()
    timing.LOG.info("[%s] " + message, names.TASK_TRAIN, *values)
