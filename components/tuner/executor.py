"""Tuner: TFX's own Tuner executor on plain URIs. It calls the module file's
`tuner_fn(fn_args) -> TunerFnResult` (TFX's contract: a KerasTuner tuner and the keyword arguments of
its `search`) with TFX's FnArgs, runs the search, and writes the best hyperparameters in TFX's layout:
`best_hyperparameters.txt`, a KerasTuner `HyperParameters` config, which the trainer's
`best_hyperparameters` input (or TFX's own Trainer) hands to run_fn as `fn_args.hyperparameters`.
"""
import json
import shutil
import tempfile

from kubetfx.components.common import fs, names, reports, tfx_executors, timing, user_module

TUNER_FN = "tuner_fn"
TASK = "tuner"
# TFX's Tuner also writes every completed trial's score and values (tuner_results.json), read here for the report.
TUNER_RESULTS_FILE = "tuner_results.json"


def run(transformed_examples_uri: str, transform_graph_uri: str, schema_uri: str, module_file: str,
        best_hyperparameters_uri: str, report_path: str, train_steps: int, eval_steps: int,
        custom_config: dict | None = None) -> dict:
    """Searches as the module file's tuner_fn says; returns the best values, the trials and the wall time.

    `train_steps` and `eval_steps` are fn_args.train_steps and fn_args.eval_steps (per trial, as
    TFX's Tuner passes them); `custom_config` is fn_args.custom_config.
    """
    watch = timing.Stopwatch()
    timing.configure_logging()
    user_module.load_function(module_file, TUNER_FN)  # a missing tuner_fn named before anything runs
    results_uri = tempfile.mkdtemp(prefix="kubetfx-tuner-results-")
    try:
        with timing.stage(TASK, f"KerasTuner search, {train_steps} steps per trial"):
            _run_tfx_tuner(module_file, transformed_examples_uri, transform_graph_uri, schema_uri, best_hyperparameters_uri,
                           results_uri, train_steps, eval_steps, custom_config or {})
        trials = fs.read_json(fs.join(results_uri, TUNER_RESULTS_FILE))
    finally:
        shutil.rmtree(results_uri, ignore_errors=True)
    (best_file,) = fs.glob(fs.join(best_hyperparameters_uri, "*"))
    best = json.loads(fs.read_text(best_file))["values"]
    figures = {"best_values": best, "trials": len(trials),
               "best_score": trials[0]["score"] if trials else None, names.META_WALL_SECONDS: watch.seconds}
    fs.write_text(report_path, _report(best, trials, figures[names.META_WALL_SECONDS]))
    return figures


def _run_tfx_tuner(module_file: str, examples_uri: str, transform_graph_uri: str, schema_uri: str, best_uri: str,
                   results_uri: str, train_steps: int, eval_steps: int, custom_config: dict) -> None:
    from tfx.components.tuner import executor as tfx_tuner
    from tfx.types import standard_component_specs as specs
    from tfx.utils import json_utils

    splits = tfx_executors.split_names(examples_uri, "the transformed examples")
    inputs = {specs.EXAMPLES_KEY: [tfx_executors.artifact("Examples", examples_uri, splits)],
              specs.TRANSFORM_GRAPH_KEY: [tfx_executors.artifact("TransformGraph", transform_graph_uri)],
              specs.SCHEMA_KEY: [tfx_executors.artifact("Schema", tfx_executors.schema_folder(schema_uri))]}
    outputs = {specs.BEST_HYPERPARAMETERS_KEY: [tfx_executors.artifact("HyperParameters", best_uri)],
               specs.TUNER_RESULTS_KEY: [tfx_executors.artifact("TunerResults", results_uri)]}
    # TFX loads tuner_fn itself: from a .py file (local or remote) or from an installed module.
    module = {specs.MODULE_FILE_KEY if user_module.is_path(module_file) else specs.MODULE_PATH_KEY: module_file}
    properties = {**module,
                  specs.TRAIN_ARGS_KEY: json.dumps({"num_steps": train_steps}),
                  specs.EVAL_ARGS_KEY: json.dumps({"num_steps": eval_steps}),
                  specs.CUSTOM_CONFIG_KEY: json_utils.dumps(custom_config)}
    tfx_executors.run(tfx_tuner.Executor, inputs, outputs, properties)


def _report(best: dict, trials: list[dict], wall_seconds: float) -> str:
    keys = sorted({key for trial in trials for key in trial} - {"trial_id", "score"})
    rows = [[trial["trial_id"], trial["score"], *(trial.get(key, "") for key in keys)] for trial in trials]
    return "\n\n".join([
        "# Tuner",
        "Best hyperparameters: " + ", ".join(f"`{key}` = {value}" for key, value in sorted(best.items())),
        reports.markdown_table(["trial", "score", *keys], rows),
        f"{len(trials)} completed trials, best first; wall time {wall_seconds:.1f} s",
    ]) + "\n"
