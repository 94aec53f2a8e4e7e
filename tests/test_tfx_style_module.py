"""A module file written for TFX (tests/tfx_style_module.py: `from tfx import v1 as tfx`, tfxio,
tf.Transform, `run_fn(fn_args: tfx.components.FnArgs)`) runs unchanged through kubetfx's transform
and train executors on a small churn data set the test makes, and its model beats chance."""
import os

import numpy as np
import pytest
from tfx_style_data import ACCURACY_BAR, EVAL_ROWS, EVAL_STEPS, MODULE_FILE, TRAIN_STEPS

from kubetfx.components.common import names
from kubetfx.components.train import executor as train


def _held_out(churn) -> tuple[list[bytes], np.ndarray]:
    """The eval split's raw tf.Examples (label included: parsing ignores it) and their labels."""
    import tensorflow as tf

    files = sorted(str(path) for path in (churn / "examples").glob(f"{names.SPLIT_PREFIX}{names.EVAL}/*"))
    records = list(tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator())
    labels = tf.io.parse_example(records, {"churned": tf.io.FixedLenFeature([], tf.int64)})["churned"].numpy()
    return records, labels


def test_the_tfx_module_trains_a_classifier_better_than_chance(churn, churn_trained):
    import tensorflow as tf

    records, labels = _held_out(churn)
    chance = max(labels.mean(), 1 - labels.mean())
    assert len(records) == EVAL_ROWS and chance < 0.65
    loaded = tf.saved_model.load(churn_trained["serving_model_dir"])
    logits = loaded.signatures["serving_default"](examples=tf.constant(records))["logits"].numpy().ravel()
    accuracy = float(((logits > 0) == (labels == 1)).mean())
    print(f"held-out accuracy {accuracy:.3f} (bar {ACCURACY_BAR}, chance {chance:.3f}); "
          f"Keras validation accuracy {churn_trained['metrics'].get('validation_binary_accuracy')}")
    assert accuracy >= ACCURACY_BAR, (accuracy, chance)


def test_the_train_step_reports_the_model_without_the_recommender_contract(churn_trained):
    assert churn_trained["signatures"] == ["serving_default"]
    assert {"train_loss", "validation_loss", "validation_binary_accuracy"} <= set(churn_trained["metrics"])


def test_transform_learns_the_vocabularies_from_train(churn_trained, churn):
    import tensorflow_transform as tft

    output = tft.TFTransformOutput(str(churn / "graph"))
    assert {v.decode() for v in output.vocabulary_by_name("plan")} == {"basic", "standard", "premium"}
    assert set(output.transformed_feature_spec()) == {"age", "monthly_spend", "support_calls", "plan", "region",
                                                      "churned"}


# In the step image's containers where `make test` provides the image and podman's API (tests/test_containers.py).
STEP_IMAGE = os.environ.get("KUBETFX_TEST_IMAGE", "") if os.environ.get("DOCKER_HOST") else ""


def test_the_tfx_module_runs_through_the_kfp_components_in_containers(churn, tmp_path, request):
    """The same module file through the transform and train KFP components under kfp.local, each
    step in a container of the step image pinned by digest, inputs imported from the churn fixture's
    folders. (The same components under kfp.local's SubprocessRunner: tests/test_readme_pipeline.py
    and tests/test_tfx_classifier_pipeline.py.)"""
    import tensorflow as tf
    from kfp import dsl, local

    from kubetfx.components.train import component as train_component
    from kubetfx.components.transform import component as transform_component
    from kubetfx.pipelines import container_runner

    if not STEP_IMAGE:
        pytest.skip("`make test` provides the step image (KUBETFX_TEST_IMAGE) and podman's API (DOCKER_HOST)")
    request.getfixturevalue("container_engine")
    transform_op, train_op = transform_component.build(STEP_IMAGE), train_component.build(STEP_IMAGE)

    @dsl.pipeline
    def tfx_style(examples_uri: str, schema_uri: str, module_file: str) -> dsl.Model:
        raw = dsl.importer(artifact_uri=examples_uri, artifact_class=dsl.Artifact, reimport=False)
        raw_schema = dsl.importer(artifact_uri=schema_uri, artifact_class=dsl.Artifact, reimport=False)
        transformed = transform_op(examples=raw.output, schema=raw_schema.output, module_file=module_file,
                                   beam_pipeline_args=[])
        trained = train_op(transformed_examples=transformed.outputs["transformed_examples"],
                           transform_graph=transformed.outputs["transform_graph"], schema=raw_schema.output,
                           module_file=module_file, train_steps=TRAIN_STEPS, eval_steps=EVAL_STEPS,
                           hyperparameters={}, custom_config={})
        return trained.outputs["model"]

    arguments = {"examples_uri": str(churn / "examples"), "schema_uri": str(churn / "schema"), "module_file": MODULE_FILE}
    record: dict = {}
    local.init(runner=container_runner.runner(), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    with container_runner.steps_in_containers(container_runner.mounts_for(arguments), record):
        run = tfx_style(**arguments)
    assert {task: step["image"] for task, step in record.items()} == {"transform": STEP_IMAGE, "train": STEP_IMAGE}
    model = run.output
    records, labels = _held_out(churn)
    loaded = tf.saved_model.load(train.serving_model_dir(model.path))
    logits = loaded.signatures["serving_default"](examples=tf.constant(records))["logits"].numpy().ravel()
    assert float(((logits > 0) == (labels == 1)).mean()) >= ACCURACY_BAR
    assert model.metadata["signatures"] == ["serving_default"]
