"""Training throughput of the reference model, for `bench_workers` and `gpu_check`.

Generated data goes through ingest, validate and transform once; then worker processes train on it
(`components/train/worker.py`, the entry point TFJob pods run) for a few epochs. The rate is read
from when TensorBoard logged the end of each epoch: the epochs after the first, so that graph
tracing, the first batches and the export stay out of it; what they cost is reported apart.
"""
import dataclasses
import json
import pathlib
import shutil

from kubetfx.components.common import timing
from kubetfx.components.train import local_cluster
from kubetfx.components.train.args import TrainArgs
from kubetfx.pipelines.recommender import module as reference_module

# By name, as the pipeline passes it (importing pipeline.py would need the compile-time packages).
REFERENCE_MODULE = reference_module.__name__


@dataclasses.dataclass(frozen=True)
class TrainInputs:
    """Where transform and validate put the train step's inputs."""

    transformed_examples: str
    transform_graph: str
    schema: str

    def worker_args(self, out: pathlib.Path, train_steps: int, hyperparameters: dict) -> TrainArgs:
        """Arguments of a worker training the reference module into `out` (figures in `out/figures.json`)."""
        return TrainArgs(self.transformed_examples, self.transform_graph, self.schema, REFERENCE_MODULE,
                         str(out / "model"), str(out / "model_run"), str(out / "report.md"), train_steps,
                         eval_steps=2, hyperparameters=hyperparameters, figures=str(out / "figures.json"))


@dataclasses.dataclass(frozen=True)
class ThroughputConfig:
    interactions: int = 20_000
    epochs: int = 3
    steps_per_epoch: int = 300
    batch_size: int = 256  # per replica
    timeout_s: float = 900.0


def prepare(out: pathlib.Path, interactions: int, seed: int = 0) -> TrainInputs:
    """Generates `interactions` interactions and runs ingest, validate and transform over them."""
    from kubetfx.pipelines.recommender.components.ingest import executor as ingest
    from kubetfx.components.transform import executor as transform
    from kubetfx.components.validate import executor as validate
    from kubetfx.pipelines.recommender import data
    from kubetfx.pipelines.recommender.generator import GeneratorConfig, generate

    generate(str(out / "data"), GeneratorConfig(interactions=interactions, seed=seed))
    ingest.run(str(out / "data" / data.INTERACTIONS_FILE), str(out / "data" / data.USERS_FILE),
               str(out / "data" / data.ITEMS_FILE), str(out / "examples"), str(out / "ingest.md"))
    validate.run(str(out / "examples"), str(out / "statistics"), str(out / "schema"), str(out / "validate.html"))
    transform.run(str(out / "examples"), str(out / "schema"), REFERENCE_MODULE, str(out / "graph"),
                  str(out / "transformed"), str(out / "transform.md"))
    return TrainInputs(str(out / "transformed"), str(out / "graph"), str(out / "schema"))


def measure(inputs: TrainInputs, out: pathlib.Path, workers: int, config: ThroughputConfig,
            environ: dict | None = None) -> dict:
    """Examples per second of `workers` workers on localhost (processes started with `environ`)."""
    figures = _train(inputs, out, workers, config, environ)
    ends = epoch_end_times(out / "model_run")
    epoch_seconds = (ends[-1] - ends[0]) / (len(ends) - 1)
    global_batch = config.batch_size * figures["replicas"]
    return {
        "workers": workers,
        "replicas": figures["replicas"],
        "strategy": figures["strategy"],
        "global_batch": global_batch,
        "step_seconds": round(epoch_seconds / config.steps_per_epoch, 5),
        "examples_per_second": round(config.steps_per_epoch * global_batch / epoch_seconds, 1),
        # run_fn's time beyond its epochs at the steady rate: tracing, first batches, export
        "fixed_seconds": round(figures["run_fn_seconds"] - config.epochs * epoch_seconds, 2),
        "cluster_start_seconds": figures["strategy_seconds"],
        "wall_seconds": figures["process_seconds"],  # from starting the processes to their end
        "validation_loss": figures["metrics"].get("validation_loss"),
    }


def epoch_end_times(model_run: pathlib.Path) -> list[float]:
    """When the TensorBoard callback logged each epoch's training metrics."""
    import tensorflow as tf

    times = []
    for path in (model_run / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            if any(value.tag == "epoch_loss" for value in event.summary.value):
                times.append(event.wall_time)
    return sorted(times)


def _train(inputs: TrainInputs, out: pathlib.Path, workers: int, config: ThroughputConfig,
           environ: dict | None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    hyperparameters = {"epochs": config.epochs, "batch_size": config.batch_size}
    args = inputs.worker_args(out, config.epochs * config.steps_per_epoch, hyperparameters)
    watch = timing.Stopwatch()
    processes = local_cluster.start_cluster(args, workers, out / "logs", environ)
    local_cluster.wait(processes, out / "logs", config.timeout_s)
    return {**json.loads(pathlib.Path(args.figures).read_text()), "process_seconds": watch.seconds}
