"""Running one of TFX's own executors on local paths (or gs:// URIs): its artifacts are made from
plain URIs, so that what it writes is laid out exactly as TFX lays it out, without TFX's
orchestration (no metadata store, no driver)."""
import tempfile

from kubetfx.components.common import beam_options, fs, names
from kubetfx.components.common.errors import InputDataError


def artifact(kind: str, uri: str, splits: list[str] | None = None):
    """A `tfx.types.standard_artifacts.<kind>` at `uri`, with its split names when it has splits."""
    from tfx.components.util import examples_utils
    from tfx.proto import example_gen_pb2
    from tfx.types import artifact_utils, standard_artifacts

    made = getattr(standard_artifacts, kind)()
    made.uri = uri
    if splits is not None:
        made.split_names = artifact_utils.encode_split_names(list(splits))
    if kind == "Examples":  # what TFX's readers would otherwise guess, with a warning: kubetfx writes tf.Examples
        examples_utils.set_payload_format(made, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    return made


def run(executor_class, inputs: dict, outputs: dict, properties: dict, beam_pipeline_args: list[str] | None = None):
    """`executor_class(context).Do(inputs, outputs, properties)`, a Beam executor with kubetfx's Beam
    options (in process unless the user names a runner); each output folder is made first, as TFX's
    launcher does."""
    import apache_beam as beam
    from tfx.dsl.components.base import base_beam_executor

    # The folder is this run's own, so one id will do; TFX's Tuner keeps its trials in tmp_dir/unique_id/.
    settings = {"tmp_dir": tempfile.mkdtemp(prefix="kubetfx-tfx-"), "unique_id": "run"}
    if issubclass(executor_class, base_beam_executor.BaseBeamExecutor):  # not SchemaGen's, ExampleValidator's
        args = beam_options.pipeline_args(beam_pipeline_args)
        if beam_options.runs_in_process(args):
            # Given Beam arguments, TFX first builds an sdist of itself for remote workers (~4 s, a copy
            # of the tfx package); in process the workers are this interpreter, so the pipeline is made here.
            settings["make_beam_pipeline_fn"] = lambda: beam.Pipeline(options=beam_options.pipeline_options(args))
        else:
            settings["beam_pipeline_args"] = args
    context = executor_class.Context(**settings)
    for artifacts in outputs.values():
        for made in artifacts:
            fs.makedirs(made.uri)
    return executor_class(context).Do(inputs, outputs, properties)


def split_names(artifact_uri: str, what: str) -> list[str]:
    """The splits of an artifact in TFX's layout, from its `Split-<name>/` folders (an imported
    artifact carries no split names of its own); none is an error naming the folder (`what` says
    which input it is)."""
    prefix = names.SPLIT_PREFIX
    found = sorted(path.rstrip("/").rsplit("/", 1)[-1][len(prefix):] for path in fs.glob(fs.join(artifact_uri, prefix + "*")))
    if not [split for split in found if split]:
        raise InputDataError(f"{what} '{artifact_uri}' has no {prefix}<name>/ folder: give the output of example_gen "
                             "or statistics_gen (or of TFX's own), laid out by split")
    return [split for split in found if split]


def schema_folder(schema_uri: str) -> str:
    """The folder holding schema.pbtxt, alone, as TFX's executors read it (a curated schema imported
    with dsl.importer may name the folder or the file itself)."""
    folder = schema_uri[: -len(names.SCHEMA_FILE)].rstrip("/") if schema_uri.endswith(names.SCHEMA_FILE) else schema_uri
    found = [path.rsplit("/", 1)[-1] for path in fs.glob(fs.join(folder, "*"))]
    if found != [names.SCHEMA_FILE]:
        raise InputDataError(f"the schema folder '{folder}' must hold {names.SCHEMA_FILE} and nothing else (found "
                             f"{found or 'nothing'}): give schema_gen's output or a folder with your curated "
                             f"{names.SCHEMA_FILE} alone")
    return folder
