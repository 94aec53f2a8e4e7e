"""Trainer: imports the module file and calls `run_fn(fn_args)` with TFX's FnArgs.

The same executor runs on one device, on every GPU of a node and as one worker of a cluster
(`strategy.py` picks the `tf.distribute` strategy from the environment). In a cluster every worker
runs `run_fn`, but only the chief writes the step's outputs: the others export into temporary
folders that are removed afterwards, because saving a model runs collective ops all workers must
join, while two writers to one model folder would race.

After `run_fn` returns, the chief checks that it exported a SavedModel and, when the pipeline asks
for it (`model_contract`, on in the recommender pipeline), that the model has the recommender's
signatures, so a model the later steps cannot use fails here, naming what is missing, not three
steps later.
"""
import contextlib
import shutil
import tempfile
from typing import Mapping

from kubetfx.components.common import examples, fs, names, reports, timing, user_module
from kubetfx.components.common.errors import ModelContractError
from kubetfx.components.train import strategy as strategy_lib


def serving_model_dir(model_uri: str) -> str:
    return fs.join(model_uri, names.SERVING_MODEL_SUBDIR)


def backup_dir(model_run_uri: str) -> str:
    return fs.join(model_run_uri, names.BACKUP_SUBDIR)


def build_fn_args(transformed_examples_uri: str, transform_graph_uri: str, schema_uri: str, model_uri: str,
                  model_run_uri: str, train_steps: int, eval_steps: int, hyperparameters: dict,
                  custom_config: dict, backup_uri: str = "", strategy=None):
    """TFX's FnArgs for `run_fn` (`fn_args.FnArgs`: a `tfx.components.FnArgs` with kubetfx's extras);
    `backup_uri` defaults to the backup folder inside `model_run_uri`."""
    # Here, not at the top: push, evaluate and the TFJob launcher import this module for its paths
    # alone and need not pay for importing tfx.
    from kubetfx.components.train import fn_args as fn_args_lib
    from kubetfx.components.train.progress import ProgressLogger

    schema_path = fs.join(schema_uri, names.SCHEMA_FILE)
    return fn_args_lib.FnArgs(
        working_dir=model_run_uri,
        train_files=[examples.split_pattern(transformed_examples_uri, names.TRAIN)],
        eval_files=[examples.split_pattern(transformed_examples_uri, names.EVAL)],
        train_steps=train_steps,
        eval_steps=eval_steps,
        schema_path=schema_path,
        schema_file=schema_path,
        transform_graph_path=transform_graph_uri,
        transform_output=transform_graph_uri,
        data_accessor=fn_args_lib.data_accessor(transformed_examples_uri),
        serving_model_dir=serving_model_dir(model_uri),
        eval_model_dir=serving_model_dir(model_uri),
        model_run_dir=model_run_uri,
        hyperparameters=dict(hyperparameters),
        custom_config=dict(custom_config),
        strategy=strategy,
        backup_dir=backup_uri or backup_dir(model_run_uri),
        callbacks=[ProgressLogger()],
    )


def run(
    transformed_examples_uri: str,
    transform_graph_uri: str,
    schema_uri: str,
    module_file: str,
    model_uri: str,
    model_run_uri: str,
    report_path: str,
    train_steps: int,
    eval_steps: int,
    hyperparameters: dict | None = None,
    custom_config: dict | None = None,
    environ: Mapping[str, str] | None = None,
    cpu_replicas: int = 0,
    model_contract: bool = True,
) -> dict:
    """Runs the user's `run_fn` and checks what it exported; returns the figures and metrics.

    `environ` is the process environment, read for a cluster description (`TF_CONFIG`,
    `CLUSTER_SPEC`); `cpu_replicas` > 1 asks for MirroredStrategy over that many logical CPUs.
    A worker other than the chief writes nothing and returns figures saying `chief: False`.
    `model_contract` checks the recommender's signatures (`names.REQUIRED_SIGNATURES`); without it
    any SavedModel in `fn_args.serving_model_dir` will do.
    """
    watch = timing.Stopwatch()
    # First, before the module file can start TensorFlow's runtime (see strategy.choose).
    distribution = strategy_lib.choose(environ or {}, cpu_replicas)
    timing.configure_logging()
    timing.LOG.info("[%s] %s", names.TASK_TRAIN, distribution.description)
    run_fn = user_module.load_function(module_file, user_module.RUN_FN)
    with _worker_outputs(model_uri, model_run_uri, distribution.is_chief) as (worker_model_uri, worker_run_uri):
        args = build_fn_args(transformed_examples_uri, transform_graph_uri, schema_uri, worker_model_uri,
                             worker_run_uri, train_steps, eval_steps, hyperparameters or {}, custom_config or {},
                             backup_uri=backup_dir(model_run_uri), strategy=distribution.strategy)
        with timing.stage(names.TASK_TRAIN, f"run_fn for {train_steps} steps"):
            run_fn_watch = timing.Stopwatch()
            run_fn(args)
    figures = {
        "chief": distribution.is_chief,
        "strategy": distribution.description,
        "replicas": distribution.strategy.num_replicas_in_sync,
        "strategy_seconds": distribution.setup_seconds,
        "run_fn_seconds": run_fn_watch.seconds,
        "train_steps": train_steps,
        "metrics": {},
    }
    if not distribution.is_chief:
        return {**figures, names.META_WALL_SECONDS: watch.seconds}
    figures.update(serving_model_dir=args.serving_model_dir, signatures=check_model(args.serving_model_dir, model_contract),
                   metrics=last_epoch_metrics(model_run_uri))
    figures[names.META_WALL_SECONDS] = watch.seconds
    fs.write_text(report_path, _report(figures))
    return figures


@contextlib.contextmanager
def _worker_outputs(model_uri: str, model_run_uri: str, is_chief: bool):
    """The model and run folders `run_fn` writes to: the step's own on the chief, temporary ones
    (removed on the way out) on every other worker."""
    if is_chief:
        yield model_uri, model_run_uri
        return
    scratch = tempfile.mkdtemp(prefix="kubetfx-worker-")
    try:
        yield fs.join(scratch, "model"), fs.join(scratch, names.MODEL_RUN_SUBDIR)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_model(model_dir: str, model_contract: bool) -> list[str]:
    """Fails unless `model_dir` holds a SavedModel and, with `model_contract`, every signature the
    recommender's later steps call; returns the model's signature names."""
    import tensorflow as tf

    if not fs.exists(fs.join(model_dir, "saved_model.pb")):
        raise ModelContractError(
            f"run_fn exported no SavedModel at fn_args.serving_model_dir ('{model_dir}'): "
            "save the serving model there (model.save(fn_args.serving_model_dir, save_format='tf', signatures=...))"
        )
    loaded = tf.saved_model.load(model_dir)
    if not model_contract:
        return sorted(loaded.signatures.keys())
    missing = [name for name in names.REQUIRED_SIGNATURES if name not in loaded.signatures]
    if missing:
        raise ModelContractError(
            f"the SavedModel at '{model_dir}' lacks the signature(s) {missing}; kubetfx needs "
            f"{list(names.REQUIRED_SIGNATURES)}: top-K items for raw user features, a score for every "
            "catalogue item, and the catalogue's item ids (or train with model_contract=False: any SavedModel)"
        )
    return sorted(loaded.signatures.keys())


def last_epoch_metrics(model_run_dir: str) -> dict:
    """The last value of each epoch metric that Keras's TensorBoard callback logged."""
    import tensorflow as tf

    metrics = {}
    for path in fs.glob(fs.join(model_run_dir, "*", "events.out.tfevents.*")):
        run_name = path.replace("\\", "/").split("/")[-2]
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag.startswith("epoch_"):
                    key = f"{run_name}_{value.tag[len('epoch_'):]}"
                    metrics[key] = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
    return metrics


def _report(figures: dict) -> str:
    return "\n\n".join([
        "# Train",
        f"Serving model: `{figures['serving_model_dir']}`",
        "Signatures: " + ", ".join(f"`{s}`" for s in figures["signatures"]),
        reports.markdown_table(["metric (last epoch)", "value"], sorted(figures["metrics"].items())),
        f"Strategy: {figures['strategy']}",
        f"Steps: {figures['train_steps']}; run_fn {figures['run_fn_seconds']:.1f} s; "
        f"wall time {figures[names.META_WALL_SECONDS]:.1f} s",
    ]) + "\n"
