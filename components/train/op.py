"""The train step of a pipeline, placed for its platform and training configuration, so that no
pipeline chooses the placement itself: every placement is the one train component (`component.py`).

- Kubeflow, one worker: the component in one pod of the GPU image, with the configured resources,
  GPUs, node selectors and tolerations;
- Kubeflow, several workers: the component on the CPU image, placed `tfjob`: a small launcher of a
  TFJob whose pods run the GPU image;
- Vertex AI: the component (GPU image) as a custom job, pool 0 the chief, pool 1 the other workers.
"""
from typing import Callable

from kfp import kubernetes

from kubetfx.components.train import component, placement
from kubetfx.config import Images, TrainingConfig

KUBEFLOW = "kubeflow"
VERTEX = "vertex"
PLATFORMS = (KUBEFLOW, VERTEX)


def train_op(images: Images, training: TrainingConfig | None = None, platform: str = KUBEFLOW) -> Callable:
    """A function that adds the train step to the pipeline being defined, called with the train
    component's inputs (`placement`, `trainer_image` and `training` are set here); it returns the task.

    `training` None: one pod as the cluster gives it (no resources asked for) on Kubeflow, Vertex
    AI's default machine and GPU on Vertex AI.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {PLATFORMS}, not '{platform}'")
    if platform == VERTEX:
        return _vertex_custom_job(component.build(images.gpu), training or TrainingConfig())
    if training and training.workers > 1:
        launcher = component.build(images.cpu)
        settings = {"placement": placement.TFJOB, "trainer_image": images.gpu, "training": training.to_dict()}
        return lambda **inputs: launcher(**inputs, **settings)
    trainer = component.build(images.gpu)

    def in_one_pod(**inputs):
        task = trainer(**inputs)
        if training:
            place_pod(task, training)
        return task

    return in_one_pod


def _vertex_custom_job(train_component, training: TrainingConfig):
    """`train_component` as a Vertex AI custom job: pool 0 holds the chief, pool 1 the other workers."""
    from google_cloud_pipeline_components.v1.custom_job import create_custom_training_job_from_component

    gpus = {"accelerator_type": training.vertex_accelerator_type, "accelerator_count": training.gpu_count}
    # When one worker restarts (a preempted VM), synchronous training cannot go on: the others are
    # restarted too, and all resume from the backup.
    return create_custom_training_job_from_component(
        train_component, replica_count=training.workers, machine_type=training.machine_type,
        restart_job_on_worker_restart=training.workers > 1, **(gpus if training.gpu_count else {}))


def place_pod(task, training: TrainingConfig) -> None:
    """Sets the trainer pod's resources, GPUs, node selectors and tolerations (self-hosted Kubeflow)."""
    task.set_cpu_request(training.cpu_request)
    if training.cpu_limit:
        task.set_cpu_limit(training.cpu_limit)
    task.set_memory_request(training.memory_request).set_memory_limit(training.memory_limit_or_request)
    if training.gpu_count:
        task.set_accelerator_type(training.gpu_resource).set_accelerator_limit(training.gpu_count)
    for key, value in training.all_node_selectors.items():
        kubernetes.add_node_selector(task, label_key=key, label_value=value)
    for toleration in training.tolerations:
        kubernetes.add_toleration(task, key=toleration.key, operator=toleration.operator,
                                  value=toleration.value or None, effect=toleration.effect or None)
