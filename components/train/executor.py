"""Trainer: imports the module file and calls `run_fn(fn_args)` with TFX's FnArgs.

The same executor runs on one device, on every GPU of a node and as one worker of a cluster
(`strategy.py` picks the `tf.distribute` strategy from the environment). In a cluster every worker
runs `run_fn`, but only the chief writes the step's outputs: the others export into temporary
folders that are removed afterwards, because saving a model runs collective ops all workers must
join, while two writers to one model folder would race.

After `run_fn` returns, the chief checks that it exported a SavedModel and, when the pipeline names
one (`model_check`: the recommender pipeline names its contract), calls a check of the pipeline's
own on it, so that a model the later steps cannot use fails here, not three steps later. The
trainer itself requires nothing else of the model: any `run_fn` will do.
"""
import contextlib
import dataclasses
import json
import shutil
import tempfile
from typing import Callable, Mapping

from kubetfx.components.common import examples, fs, names, reports, timing, user_module
from kubetfx.components.common.errors import InputDataError, ModelContractError, ModuleFileError
from kubetfx.components.train import strategy as strategy_lib
from kubetfx.components.train.args import TrainArgs


def serving_model_dir(model_uri: str) -> str:
    return fs.join(model_uri, names.SERVING_MODEL_SUBDIR)


def backup_dir(model_run_uri: str) -> str:
    return fs.join(model_run_uri, names.BACKUP_SUBDIR)


def build_fn_args(args: TrainArgs, strategy=None, backup_uri: str = ""):
    """TFX's FnArgs for `run_fn` (`fn_args.FnArgs`: a `tfx.components.FnArgs` with kubetfx's extras);
    `backup_uri` defaults to the backup folder inside `args.model_run`."""
    # Here, not at the top: push, evaluate and the TFJob launcher import this module for its paths
    # alone and need not pay for importing tfx.
    from kubetfx.components.train import fn_args as fn_args_lib
    from kubetfx.components.train.progress import ProgressLogger

    schema_path = fs.join(args.schema, names.SCHEMA_FILE)
    return fn_args_lib.FnArgs(
        working_dir=args.model_run,
        train_files=[examples.split_pattern(args.transformed_examples, names.TRAIN)],
        eval_files=[examples.split_pattern(args.transformed_examples, names.EVAL)],
        train_steps=args.train_steps,
        eval_steps=args.eval_steps,
        schema_path=schema_path,
        schema_file=schema_path,
        transform_graph_path=args.transform_graph,
        transform_output=args.transform_graph,
        data_accessor=fn_args_lib.data_accessor(args.transformed_examples),
        serving_model_dir=serving_model_dir(args.model),
        eval_model_dir=serving_model_dir(args.model),
        model_run_dir=args.model_run,
        hyperparameters=hyperparameters(args.hyperparameters, args.best_hyperparameters),
        custom_config=dict(args.custom_config),
        strategy=strategy,
        backup_dir=backup_uri or backup_dir(args.model_run),
        callbacks=[ProgressLogger()],
    )


def hyperparameters(values: dict, best_hyperparameters_uri: str) -> dict:
    """`fn_args.hyperparameters`: `values` alone, or, given the tuner's output, its KerasTuner
    config (`{"space": ..., "values": ...}`, what TFX's Trainer passes, for
    `keras_tuner.HyperParameters.from_config`) with `values` set over the tuned values."""
    if not best_hyperparameters_uri:
        return dict(values)
    files = fs.glob(fs.join(best_hyperparameters_uri, "*"))
    if len(files) != 1:
        raise InputDataError(f"the hyperparameters folder '{best_hyperparameters_uri}' holds {len(files)} files; "
                             "expected one, the tuner's best_hyperparameters.txt (TFX's HyperParameters)")
    try:
        config = json.loads(fs.read_text(files[0]))
        tuned = config["values"]
    except (ValueError, KeyError, TypeError) as error:
        raise InputDataError(f"'{files[0]}' is not a KerasTuner HyperParameters config (JSON with 'values'): "
                             f"{type(error).__name__}: {error}") from None
    return {**config, "values": {**tuned, **values}}


def run(args: TrainArgs, environ: Mapping[str, str] | None = None) -> dict:
    """Runs the user's `run_fn`, checks what it exported; returns the figures and metrics.

    `environ` is the process environment, read for a cluster description (`TF_CONFIG`,
    `CLUSTER_SPEC`). A worker other than the chief writes nothing and returns figures saying
    `chief: False`. The chief requires a SavedModel in `fn_args.serving_model_dir` and, with
    `args.model_check`, that the named function accepts it.
    """
    watch = timing.Stopwatch()
    # First, before the module file can start TensorFlow's runtime (see strategy.choose).
    distribution = strategy_lib.choose(environ or {}, args.cpu_replicas)
    timing.configure_logging()
    timing.LOG.info("[%s] %s", names.TASK_TRAIN, distribution.description)
    run_fn = user_module.load_function(args.module_file, user_module.RUN_FN)
    model_check = load_model_check(args.model_check) if args.model_check else None
    with _worker_outputs(args.model, args.model_run, distribution.is_chief) as (worker_model_uri, worker_run_uri):
        fn_args = build_fn_args(dataclasses.replace(args, model=worker_model_uri, model_run=worker_run_uri),
                                strategy=distribution.strategy, backup_uri=backup_dir(args.model_run))
        with timing.stage(names.TASK_TRAIN, f"run_fn for {args.train_steps} steps"):
            run_fn_watch = timing.Stopwatch()
            run_fn(fn_args)
    figures = {
        "chief": distribution.is_chief,
        "strategy": distribution.description,
        "replicas": distribution.strategy.num_replicas_in_sync,
        "strategy_seconds": distribution.setup_seconds,
        "run_fn_seconds": run_fn_watch.seconds,
        **_training_loop(fn_args),
        "train_steps": args.train_steps,
        "metrics": {},
    }
    if not distribution.is_chief:
        return {**figures, names.META_WALL_SECONDS: watch.seconds}
    figures.update(serving_model_dir=fn_args.serving_model_dir, signatures=check_model(fn_args.serving_model_dir, model_check),
                   metrics=last_epoch_metrics(args.model_run))
    figures[names.META_WALL_SECONDS] = watch.seconds
    fs.write_text(args.report, _report(figures, run_fn_notes(args.model_run)))
    return figures


def _training_loop(fn_args) -> dict:
    """The steps `model.fit` ran and the seconds they took (the progress callback's count), when
    run_fn passed kubetfx's callbacks to it."""
    from kubetfx.components.train.progress import ProgressLogger

    logger = next((callback for callback in fn_args.callbacks if isinstance(callback, ProgressLogger)), None)
    if logger is None or not logger.steps:
        return {}
    return {"trained_steps": logger.steps, "training_loop_seconds": logger.seconds}


def _loop_text(figures: dict) -> str:
    if not figures.get("trained_steps"):
        return ""
    per_step_ms = 1000 * figures["training_loop_seconds"] / figures["trained_steps"]
    return f", of which the training loop {figures['training_loop_seconds']:.1f} s ({per_step_ms:.0f} ms a step)"


def run_fn_notes(model_run_uri: str) -> list[str]:
    """The Markdown files run_fn wrote at the top of `fn_args.model_run_dir` (the reference
    module's columns.md: how it used each column of the data), for the step's report."""
    return [fs.read_text(path) for path in sorted(fs.glob(fs.join(model_run_uri, "*.md")))]


def load_model_check(spec: str) -> Callable:
    """The function `spec` names as `module:function`, the module as in `module_file` (an
    installed module or a .py file, local or gs://)."""
    module, _, function = spec.rpartition(":")
    if not module or not function.isidentifier():
        raise ModuleFileError(f"model_check '{spec}' is not module:function (e.g. "
                              "'my_package.contract:check' or 'gs://bucket/contract.py:check')")
    return user_module.load_function(module, function)


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


def check_model(model_dir: str, model_check: Callable | None = None) -> list[str]:
    """Fails unless `model_dir` holds a SavedModel that `model_check(loaded, model_dir)`, if any,
    accepts (it raises otherwise); returns the model's signature names."""
    import tensorflow as tf

    if not fs.exists(fs.join(model_dir, "saved_model.pb")):
        raise ModelContractError(
            f"run_fn exported no SavedModel at fn_args.serving_model_dir ('{model_dir}'): "
            "save the serving model there (model.save(fn_args.serving_model_dir, save_format='tf', signatures=...))"
        )
    loaded = tf.saved_model.load(model_dir)
    if model_check:
        model_check(loaded, model_dir)
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


def _report(figures: dict, notes: list[str]) -> str:
    return "\n\n".join([
        "# Train",
        f"Serving model: `{figures['serving_model_dir']}`",
        "Signatures: " + ", ".join(f"`{s}`" for s in figures["signatures"]),
        reports.markdown_table(["metric (last epoch)", "value"], sorted(figures["metrics"].items())),
        f"Strategy: {figures['strategy']}",
        f"Steps: {figures['train_steps']}; run_fn {figures['run_fn_seconds']:.1f} s{_loop_text(figures)}; "
        f"wall time {figures[names.META_WALL_SECONDS]:.1f} s",
        *notes,
    ]) + "\n"
