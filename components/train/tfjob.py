"""The `TFJob` (Kubeflow Training Operator, `kubeflow.org/v1`) that trains with several workers.

One Chief and `workers - 1` Workers, all running the trainer image's worker entry point on the same
inputs; the operator gives each pod its `TF_CONFIG`, and the chief alone writes the outputs.
"""
import hashlib

from kubetfx.components.train import worker
from kubetfx.components.train.args import TrainArgs
from kubetfx.config import TrainingConfig

GROUP = "kubeflow.org"
VERSION = "v1"
PLURAL = "tfjobs"
KIND = "TFJob"
CHIEF = "Chief"
WORKER = "Worker"
# The operator injects TF_CONFIG into the container with this name only.
CONTAINER = "tensorflow"
JOB_NAME_LABEL = "training.kubeflow.org/job-name"
# A failed pod (a killed or preempted worker, or the chief whose peer vanished) is restarted in
# place and resumes from the last backup; `max_restarts` bounds the retries of a real error.
RESTART_POLICY = "OnFailure"


def job_name(model_uri: str) -> str:
    """A name that follows the output it trains for, so a restarted launcher finds its own job."""
    return "kubetfx-train-" + hashlib.sha1(model_uri.encode()).hexdigest()[:12]


def manifest(name: str, namespace: str, image: str, args: TrainArgs, training: TrainingConfig) -> dict:
    """The TFJob resource, ready for `CustomObjectsApi.create_namespaced_custom_object`."""
    replicas = {CHIEF: 1, WORKER: training.workers - 1}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "kubetfx"}},
        "spec": {
            # Pods stay after the job ends so that the launcher can show a failed worker's log;
            # deleting the job removes them.
            "runPolicy": {"cleanPodPolicy": "None", "backoffLimit": training.max_restarts},
            "tfReplicaSpecs": {
                replica_type: {"replicas": count, "restartPolicy": RESTART_POLICY,
                               "template": _pod_template(image, args, training)}
                for replica_type, count in replicas.items() if count
            },
        },
    }


def _pod_template(image: str, args: TrainArgs, training: TrainingConfig) -> dict:
    spec = {
        "containers": [{
            "name": CONTAINER,
            "image": image,
            "command": worker.command(),
            "args": args.argv(),
            "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}],  # progress reaches the pod log as it happens
            "resources": resources(training),
        }],
        "nodeSelector": training.all_node_selectors,
        "tolerations": [toleration.to_kubernetes() for toleration in training.tolerations],
    }
    if training.service_account:
        spec["serviceAccountName"] = training.service_account
    # An Istio sidecar never exits, so the pods would never complete, and it intercepts the
    # workers' gRPC traffic; Kubeflow's profile namespaces inject one unless told not to.
    return {"metadata": {"annotations": {"sidecar.istio.io/inject": "false"}}, "spec": spec}


def resources(training: TrainingConfig) -> dict:
    """Requests and limits of one worker's container."""
    requests = {"cpu": training.cpu_request, "memory": training.memory_request}
    limits = {"memory": training.memory_limit_or_request}
    if training.cpu_limit:
        limits["cpu"] = training.cpu_limit
    if training.gpu_count:
        # Extended resources such as GPUs are never overcommitted: request and limit must match.
        requests[training.gpu_resource] = limits[training.gpu_resource] = str(training.gpu_count)
    return {"requests": requests, "limits": limits}
