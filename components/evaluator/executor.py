"""The generic evaluator: TFX's own Evaluator executor (TFMA with the user's EvalConfig) on local paths.

TFX's executor does the work, so the artifacts are laid out exactly as TFX lays them out: the
evaluation folder as TFMA writes it (readable with `tfma.load_eval_result`) and the blessing folder
holding `BLESSED` or `NOT_BLESSED`. As in TFX, a model is blessed only when the EvalConfig sets
thresholds and every one holds; change thresholds need a baseline model and are skipped without
one. What is added here: the EvalConfig read as JSON or text proto with an error that says which,
the overall metrics as plain figures, and a Markdown report of every slice and failed threshold.
"""
import json

from kubetfx.components.common import fs, integrity, names, timing, tfx_executors
from kubetfx.components.common.errors import KubetfxError

BLESSED_FILE = "BLESSED"
NOT_BLESSED_FILE = "NOT_BLESSED"
EVAL_SPLIT = "eval"


class EvalConfigError(KubetfxError):
    """The EvalConfig given to the evaluator is not a valid tfma.EvalConfig."""


def parse_eval_config(text: str):
    """A `tfma.EvalConfig` from its JSON or text-proto form."""
    from google.protobuf import json_format, text_format
    from tensorflow_model_analysis.proto import config_pb2

    config = config_pb2.EvalConfig()
    try:
        if text.lstrip().startswith("{"):
            json_format.Parse(text, config)
        else:
            text_format.Parse(text, config)
    except (json_format.ParseError, text_format.ParseError) as error:
        form = "JSON" if text.lstrip().startswith("{") else "text proto"
        raise EvalConfigError(f"eval_config is not a valid tfma.EvalConfig ({form}): {error}. Write it as TFX's "
                              "Evaluator takes it, e.g. model_specs { label_key: 'label' } metrics_specs { ... }") from None
    if not config.model_specs:
        raise EvalConfigError("eval_config names no model_specs: give at least one with the label_key (and "
                              "signature_name / prediction_key when the model has several outputs)")
    return config


def run(model_uri: str, examples_uri: str, eval_config: str, evaluation_uri: str, blessing_uri: str,
        report_path: str, baseline_model_uri: str = "", example_splits: tuple[str, ...] = (EVAL_SPLIT,),
        beam_pipeline_args: list[str] | None = None) -> dict:
    """Evaluates the model under `model_uri` (its `Format-Serving/` SavedModel) on `example_splits`
    of `examples_uri` with TFX's Evaluator; returns whether it is blessed and the overall metrics."""
    watch = timing.Stopwatch()
    config = parse_eval_config(eval_config)
    baseline_given = bool(baseline_model_uri)
    if baseline_model_uri and not fs.exists(fs.join(baseline_model_uri, names.SERVING_MODEL_SUBDIR)):
        # latest_blessed's model before the first push (found: false): no champion to compare with.
        baseline_model_uri = ""
    _run_tfx_evaluator(config, model_uri, examples_uri, evaluation_uri, blessing_uri, baseline_model_uri,
                       example_splits, beam_pipeline_args)
    blessed = fs.exists(fs.join(blessing_uri, BLESSED_FILE))
    slices, failures = _results(evaluation_uri)
    figures = {names.META_BLESSED: blessed, "metrics": slices.get("Overall", {}), "failed_thresholds": failures,
               names.META_WALL_SECONDS: watch.seconds}
    if baseline_given:
        figures.update(_judged_against(baseline_model_uri))
    # Beside TFX's marker file, the verdict as kubetfx's push reads it (its reason, its metrics).
    fs.write_json(fs.join(blessing_uri, names.BLESSING_FILE), figures)
    fs.write_text(report_path, _report(blessed, slices, failures, bool(baseline_model_uri)))
    return figures


def _judged_against(baseline_model_uri: str) -> dict:
    """Which served version the baseline was (push's manifest, which latest_blessed copies with it):
    None for the empty baseline of a serving root with nothing served yet; nothing when the version
    is unknown (a model pushed before push wrote manifests)."""
    if not baseline_model_uri:
        return {names.META_JUDGED_AGAINST: None}
    manifest = integrity.read_manifest(fs.join(baseline_model_uri, names.SERVING_MODEL_SUBDIR)) or {}
    version = manifest.get("lineage", {}).get("version")
    return {names.META_JUDGED_AGAINST: version} if version else {}


def _run_tfx_evaluator(config, model_uri, examples_uri, evaluation_uri, blessing_uri, baseline_model_uri,
                       example_splits, beam_pipeline_args) -> None:
    from google.protobuf import json_format
    from tfx.components.evaluator import executor as tfx_evaluator
    from tfx.types import standard_component_specs as specs

    inputs = {specs.EXAMPLES_KEY: [tfx_executors.artifact("Examples", examples_uri, list(example_splits))],
              specs.MODEL_KEY: [tfx_executors.artifact("Model", model_uri)]}
    if baseline_model_uri:
        inputs[specs.BASELINE_MODEL_KEY] = [tfx_executors.artifact("Model", baseline_model_uri)]
    outputs = {specs.EVALUATION_KEY: [tfx_executors.artifact("ModelEvaluation", evaluation_uri)],
               specs.BLESSING_KEY: [tfx_executors.artifact("ModelBlessing", blessing_uri)]}
    properties = {specs.EVAL_CONFIG_KEY: json_format.MessageToJson(config),
                  specs.EXAMPLE_SPLITS_KEY: json.dumps(list(example_splits)),
                  specs.FEATURE_SLICING_SPEC_KEY: None, specs.FAIRNESS_INDICATOR_THRESHOLDS_KEY: None}
    tfx_executors.run(tfx_evaluator.Executor, inputs, outputs, properties, beam_pipeline_args)


def _results(evaluation_uri: str) -> tuple[dict, list[str]]:
    """{slice name → {metric → value}} for the candidate, and each failed threshold as a sentence."""
    import tensorflow_model_analysis as tfma

    slices = {}
    for slice_key, by_output in tfma.load_eval_result(evaluation_uri).slicing_metrics:
        name = " & ".join(f"{column}={value}" for column, value in slice_key) or "Overall"
        values = {}
        for by_sub_key in by_output.values():
            for metrics in by_sub_key.values():
                for metric, value in metrics.items():
                    if isinstance(value, dict) and "doubleValue" in value:
                        # A NaN (precision on a slice with no positive prediction) comes as the text 'NaN'.
                        values[metric] = float(value["doubleValue"])
        slices[name] = values
    validation = tfma.load_validation_result(evaluation_uri)
    failures = []
    for per_slice in validation.metric_validations_per_slice:
        where = _slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            failures.append(f"{failure.metric_key.name} = {failure.metric_value.double_value.value:.4f} on {where} "
                            f"fails {_threshold(failure.metric_threshold)}")
    return slices, failures


def _slice_name(slice_key) -> str:
    """'Overall', or `column=value & ...` as the slices' table names them."""
    parts = []
    for single in slice_key.single_slice_keys:
        value = getattr(single, single.WhichOneof("kind"))
        parts.append(f"{single.column}={value.decode() if isinstance(value, bytes) else value}")
    return " & ".join(parts) or "Overall"


def _threshold(threshold) -> str:
    from google.protobuf import json_format

    return json.dumps(json_format.MessageToDict(threshold), sort_keys=True)


def _report(blessed: bool, slices: dict, failures: list[str], has_baseline: bool) -> str:
    lines = ["# Evaluator (TFX Evaluator, TFMA)", "",
             f"**{'BLESSED' if blessed else 'NOT BLESSED'}**" + ("" if has_baseline else " (no baseline model: "
                                                                 "change thresholds not judged)"), ""]
    if failures:
        lines += ["Failed thresholds:", "", *[f"- {failure}" for failure in failures], ""]
    metric_names = sorted({name for values in slices.values() for name in values})
    lines += ["| slice | " + " | ".join(metric_names) + " |", "|---" * (len(metric_names) + 1) + "|"]
    for name, values in slices.items():
        cells = [f"{values[m]:.4f}" if m in values else "" for m in metric_names]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
