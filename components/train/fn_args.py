"""What `run_fn(fn_args)` receives: TFX's own `FnArgs` (`tfx.components.FnArgs`), with kubetfx's
extras for distributed training, so a module file written for TFX's Trainer runs here unchanged."""
import attr
from tfx.components.trainer import fn_args_utils
from tfx.components.util import examples_utils, tfxio_utils
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts

from kubetfx.components.common import names

# Names the reader in tfx-bsl's metrics, as TFX's Trainer names its own ("Trainer").
_TELEMETRY_DESCRIPTORS = ["kubetfx", names.TASK_TRAIN]


@attr.s
class FnArgs(fn_args_utils.FnArgs):
    """TFX's FnArgs (an instance of `tfx.components.FnArgs`) plus three kubetfx fields.

    `strategy`: the `tf.distribute` strategy to build the model in; `backup_dir`: where
    `tf.keras.callbacks.BackupAndRestore` keeps the training state so that a restarted worker
    resumes (shared by all workers of one run); `callbacks`: Keras callbacks for `model.fit`
    (progress lines in the step's log). TFX's own Trainer passes none of them, so a module file
    meant for both reads them with `getattr(fn_args, name, default)`.
    """

    strategy = attr.ib(default=None)
    backup_dir = attr.ib(type=str, default="")
    callbacks = attr.ib(type=list, factory=list)


def data_accessor(examples_uri: str) -> fn_args_utils.DataAccessor:
    """TFX's DataAccessor for the split examples at `examples_uri`, built by TFX's own helpers
    from an Examples artifact, as TFX's Trainer builds it (tf.Example payload read through TFXIO)."""
    examples = standard_artifacts.Examples()
    examples.uri = examples_uri
    examples.split_names = artifact_utils.encode_split_names(list(names.SPLITS))
    examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    return fn_args_utils.DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], _TELEMETRY_DESCRIPTORS),
        record_batch_factory=tfxio_utils.get_record_batch_factory_from_artifact([examples], _TELEMETRY_DESCRIPTORS),
        data_view_decode_fn=tfxio_utils.get_data_view_decode_fn_from_artifact([examples], _TELEMETRY_DESCRIPTORS),
    )
