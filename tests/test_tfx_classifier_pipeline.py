"""The pipeline a TFX user composes from the generic components (pipelines/tfx_classifier): their CSV
through example_gen, statistics_gen, schema_gen and example_validator, their module file and EvalConfig
through transform, train and TFX's Evaluator under kfp.local; a model that does not beat the served
champion by the EvalConfig's change threshold is not pushed (a model below a value threshold is not
blessed: tests/test_evaluator.py; a blessed one is pushed: tests/test_readme_pipeline.py). It compiles
for Kubeflow and Vertex AI alike."""
import json
import warnings

import yaml

from kubetfx.pipelines.tfx_classifier import pipeline
from tfx_style_data import EVAL_STEPS, MODULE_FILE, TRAIN_STEPS

# Value thresholds it meets; a change threshold no retrained model can meet.
BEAT_THE_CHAMPION = json.dumps({
    "model_specs": [{"signature_name": "serving_default", "label_key": "churned", "prediction_key": "probabilities"}],
    "metrics_specs": [{"metrics": [{"class_name": "AUC", "threshold": {
        "value_threshold": {"lower_bound": 0.5},
        "change_threshold": {"direction": "HIGHER_IS_BETTER", "absolute": 0.5}}}]}],
})


def test_a_model_no_better_than_the_served_champion_is_not_pushed(churn, churn_trained, tmp_path):
    """The champion (the module's model, pushed as version 1) comes in through latest_blessed as the
    evaluator's baseline: a challenger that must beat its AUC by 0.5 is not blessed."""
    from kfp import local

    from kubetfx.components.common import fs, names
    from kubetfx.components.push import executor as push

    serving_root = tmp_path / "serving"
    fs.write_json(str(tmp_path / "blessing" / names.BLESSING_FILE), {names.META_BLESSED: True})
    push.run(str(churn / "model" / names.SERVING_MODEL_SUBDIR), str(tmp_path / "blessing"), str(serving_root),
             str(tmp_path / "push.md"), version="1")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-Python base image.*")
        pipeline.create_pipeline("kubetfx-test")(
            data_uri=str(churn / "churn.csv"), module_file=MODULE_FILE, eval_config=BEAT_THE_CHAMPION,
            serving_root=str(serving_root), train_steps=TRAIN_STEPS, eval_steps=EVAL_STEPS)

    (run,) = (tmp_path / "root").iterdir()
    tasks = {path.name for path in run.iterdir() if path.is_dir()}
    assert {"example-gen", "statistics-gen", "schema-gen", "example-validator", "transform", "train",
            "latest-blessed", "evaluator"} <= tasks and "push" not in tasks
    assert next((run / "schema-gen").rglob("schema.pbtxt")).is_file()
    champion = json.loads((run / "latest-blessed" / "executor_output.json").read_text())
    assert champion["parameterValues"]["Output"] is True
    assert champion["artifacts"]["model"]["artifacts"][0]["metadata"]["version"] == "1"
    blessing = json.loads(next((run / "evaluator" / "blessing").rglob(names.BLESSING_FILE)).read_text())
    assert not blessing["blessed"] and "changeThreshold" in " ".join(blessing["failed_thresholds"])
    assert blessing[names.META_JUDGED_AGAINST] == "1"  # what push would check LATEST against
    assert sorted(path.name for path in serving_root.iterdir() if not path.name.startswith(".")) == ["1", "LATEST"]


def test_it_compiles_for_kubeflow_and_vertex(tmp_path):
    from kfp import compiler

    target = tmp_path / "tfx-classifier.yaml"
    compiler.Compiler().compile(pipeline.create_pipeline("registry.example.com/team/kubetfx@sha256:" + "a" * 64),
                                str(target))
    spec = yaml.safe_load(target.read_text())
    assert set(spec["root"]["dag"]["tasks"]) >= {"example-gen", "statistics-gen", "schema-gen", "example-validator",
                                                "transform", "train", "latest-blessed", "evaluator", "condition-1"}
    assert not spec["root"]["dag"]["tasks"]["latest-blessed"]["cachingOptions"].get("enableCache")
    assert {executor["container"]["image"] for executor in spec["deploymentSpec"]["executors"].values()
            if "container" in executor} == {"registry.example.com/team/kubetfx@sha256:" + "a" * 64}
