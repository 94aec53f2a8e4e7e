"""TFX's artifact types as KFP artifact classes, defined once for every component and pipeline.

Each class names the TFX type whose layout its folder holds (TFX's `tfx.types.standard_artifacts`):
`Split-<name>/` for Examples, `schema.pbtxt` for Schema, `Split-<name>/FeatureStats.pb` for
ExampleStatistics, TFX's `BLESSED`/`NOT_BLESSED` for ModelBlessing, and so on. With one schema title
per type, KFP's compiler refuses a pipeline that wires statistics where a schema is expected, and the
Kubeflow UI shows each artifact's TFX type.

KFP's SDK accepts schema titles only in its `system.` and `google.` namespaces (TFX's own Kubeflow V2
runner writes `tfx.` titles into the spec directly, which the SDK refuses), so the titles are
`system.<TFX type>`. TFX's Model and PushedModel are KFP's own `system.Model`: a SavedModel folder,
which Vertex AI and the Kubeflow UI already know.
"""
from kfp import dsl

SCHEMA_VERSION = "0.0.1"


class Examples(dsl.Dataset):
    """tf.Examples by split (TFX's Examples): Split-<name>/*.gz; metadata["splits"] names the splits."""
    schema_title = "system.Examples"
    schema_version = SCHEMA_VERSION


class ExampleStatistics(dsl.Artifact):
    """TFDV statistics by split (TFX's ExampleStatistics): Split-<name>/FeatureStats.pb."""
    schema_title = "system.ExampleStatistics"
    schema_version = SCHEMA_VERSION


class Schema(dsl.Artifact):
    """A TFMD schema (TFX's Schema): schema.pbtxt."""
    schema_title = "system.Schema"
    schema_version = SCHEMA_VERSION


class ExampleAnomalies(dsl.Artifact):
    """TFDV anomalies by split (TFX's ExampleAnomalies): Split-<name>/SchemaDiff.pb."""
    schema_title = "system.ExampleAnomalies"
    schema_version = SCHEMA_VERSION


class TransformGraph(dsl.Artifact):
    """tensorflow-transform's output (TFX's TransformGraph): transform_fn/, transformed_metadata/."""
    schema_title = "system.TransformGraph"
    schema_version = SCHEMA_VERSION


class HyperParameters(dsl.Artifact):
    """The tuner's best hyperparameters (TFX's HyperParameters): best_hyperparameters.txt."""
    schema_title = "system.HyperParameters"
    schema_version = SCHEMA_VERSION


class ModelRun(dsl.Artifact):
    """A training run's TensorBoard logs and backups (TFX's ModelRun)."""
    schema_title = "system.ModelRun"
    schema_version = SCHEMA_VERSION


class ModelEvaluation(dsl.Artifact):
    """TFMA's or the ranking evaluator's results (TFX's ModelEvaluation)."""
    schema_title = "system.ModelEvaluation"
    schema_version = SCHEMA_VERSION


class ModelBlessing(dsl.Artifact):
    """Whether a model passed its evaluation (TFX's ModelBlessing): a BLESSED or NOT_BLESSED file."""
    schema_title = "system.ModelBlessing"
    schema_version = SCHEMA_VERSION

