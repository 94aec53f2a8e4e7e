"""TFX's `FnArgs` and `DataAccessor`, field for field, so a module file written for TFX's
Trainer runs here unchanged."""
import dataclasses
from typing import Any, Callable


@dataclasses.dataclass
class DataAccessor:
    """Reads examples for `run_fn`, as TFX's DataAccessor does (through tfx-bsl's TFXIO)."""

    tf_dataset_factory: Callable
    record_batch_factory: Callable | None = None
    data_view_decode_fn: Callable | None = None


@dataclasses.dataclass
class FnArgs:
    """What `run_fn(fn_args)` receives.

    kubetfx adds two fields for distributed training: `strategy`, the `tf.distribute` strategy to
    build the model in, and `backup_dir`, where `tf.keras.callbacks.BackupAndRestore` keeps the
    training state so that a restarted worker resumes (shared by all workers of one run); and
    `callbacks`, Keras callbacks for `model.fit` (progress lines in the step's log).
    """

    working_dir: str
    train_files: list[str]
    eval_files: list[str]
    train_steps: int
    eval_steps: int
    schema_path: str
    schema_file: str
    transform_graph_path: str
    transform_output: str
    data_accessor: DataAccessor
    serving_model_dir: str
    eval_model_dir: str
    model_run_dir: str
    base_model: str | None = None
    hyperparameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    custom_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    strategy: Any = None
    backup_dir: str = ""
    callbacks: list = dataclasses.field(default_factory=list)


def make_data_accessor() -> DataAccessor:
    return DataAccessor(tf_dataset_factory=_tf_dataset_factory, record_batch_factory=_record_batch_factory)


def _tfxio(file_pattern, schema):
    from tfx_bsl.public import tfxio

    return tfxio.TFExampleRecord(file_pattern=file_pattern, schema=schema, telemetry_descriptors=["kubetfx", "train"])


def _tf_dataset_factory(file_pattern, dataset_options, schema):
    return _tfxio(file_pattern, schema).TensorFlowDataset(dataset_options)


def _record_batch_factory(file_pattern, record_batches_options, schema):
    return _tfxio(file_pattern, schema).RecordBatches(record_batches_options)
