"""The pipeline a TFX user composes from the generic components (pipelines/tfx_classifier): their CSV
through example_gen, statistics_gen, schema_gen and example_validator, their module file and EvalConfig
through transform, train and TFX's Evaluator under kfp.local; a model below the EvalConfig's threshold
is not pushed. It compiles for Kubeflow and Vertex AI alike."""
import json
import warnings

import yaml

from kubetfx.pipelines.tfx_classifier import pipeline
from tfx_style_data import EVAL_STEPS, MODULE_FILE, TRAIN_STEPS

UNREACHABLE_AUC = json.dumps({
    "model_specs": [{"signature_name": "serving_default", "label_key": "churned", "prediction_key": "probabilities"}],
    "metrics_specs": [{"metrics": [{"class_name": "AUC", "threshold": {"value_threshold": {"lower_bound": 0.9999}}}]}],
})


def test_a_model_below_the_eval_configs_threshold_is_not_pushed(churn, tmp_path):
    from kfp import local

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    serving_root = tmp_path / "serving"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")  # the steps run in this environment
        pipeline.create_pipeline("kubetfx-test")(
            data_uri=str(churn / "churn.csv"), module_file=MODULE_FILE,
            eval_config=UNREACHABLE_AUC, serving_root=str(serving_root), train_steps=TRAIN_STEPS, eval_steps=EVAL_STEPS)

    (run,) = (tmp_path / "root").iterdir()
    tasks = {path.name for path in run.iterdir() if path.is_dir()}
    assert {"example-gen", "statistics-gen", "schema-gen", "example-validator", "transform", "train",
            "evaluator"} <= tasks and "push" not in tasks
    assert (next((run / "schema-gen").rglob("schema.pbtxt"))).is_file()
    evaluated = json.loads((run / "evaluator" / "executor_output.json").read_text())
    assert evaluated["parameterValues"]["Output"] is False
    assert not serving_root.exists() or not any(serving_root.iterdir())
    blessing = next((run / "evaluator" / "blessing").rglob("NOT_BLESSED"))
    assert blessing.is_file()


def test_it_compiles_for_kubeflow_and_vertex(tmp_path):
    from kfp import compiler

    target = tmp_path / "tfx-classifier.yaml"
    compiler.Compiler().compile(pipeline.create_pipeline("registry.example.com/team/kubetfx@sha256:" + "a" * 64),
                                str(target))
    spec = yaml.safe_load(target.read_text())
    assert set(spec["root"]["dag"]["tasks"]) >= {"example-gen", "statistics-gen", "schema-gen", "example-validator",
                                                "transform", "train", "evaluator", "condition-1"}
    assert {executor["container"]["image"] for executor in spec["deploymentSpec"]["executors"].values()
            if "container" in executor} == {"registry.example.com/team/kubetfx@sha256:" + "a" * 64}
