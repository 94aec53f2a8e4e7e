"""Names shared by components, pipelines and tests, defined once: the shared kernel's, free of any
domain (the recommender's own, such as its columns, are in kubetfx.pipelines.recommender.names).

Artifact layouts follow TFX's conventions (`Split-<name>/` folders of TFRecord files of
`tf.Example`s), so TFX tools and users' habits carry over.
"""

TRAIN = "train"
EVAL = "eval"
SPLITS = (TRAIN, EVAL)

SPLIT_PREFIX = "Split-"
EXAMPLES_FILE_PREFIX = "data_tfrecord"
EXAMPLES_FILE_SUFFIX = ".gz"

# Bound on text values, shared by ingest (which refuses longer ones naming the row) and serve (400):
# a single oversize value must not make evaluate or the monitor ask for gigabytes of memory.
MAX_TEXT_LENGTH = 2048  # characters of a string feature's value

# Files inside artifacts.
SCHEMA_FILE = "schema.pbtxt"
FEATURE_STATS_FILE = "FeatureStats.pb"
ANOMALIES_PROTO_FILE = "SchemaDiff.pb"  # a split's TFDV Anomalies, as TFX's ExampleValidator names it
ANOMALIES_FILE = "anomalies.json"
BLESSING_FILE = "blessing.json"
EVAL_RESULT_FILE = "evaluation.json"
SERVING_MODEL_SUBDIR = "Format-Serving"
MODEL_RUN_SUBDIR = "model_run"
BACKUP_SUBDIR = "backup"  # inside model_run: training state for BackupAndRestore, shared by workers
TRAIN_FIGURES_FILE = "train_figures.json"  # inside model_run: what the chief reports to a launcher
LATEST_POINTER = "LATEST"

# Task names in the compiled spec.
TASK_INGEST = "ingest"
TASK_VALIDATE = "validate"
TASK_TRANSFORM = "transform"
TASK_TRAIN = "train"
TASK_EVALUATE = "evaluate"
TASK_PUSH = "push"
STEPS = (TASK_INGEST, TASK_VALIDATE, TASK_TRANSFORM, TASK_TRAIN, TASK_EVALUATE, TASK_PUSH)

# Environment variables that describe a training cluster: TF_CONFIG (Kubeflow Training Operator,
# Vertex AI) and CLUSTER_SPEC (Vertex AI).
ENV_TF_CONFIG = "TF_CONFIG"
ENV_CLUSTER_SPEC = "CLUSTER_SPEC"

# Metadata keys written on artifacts, read by the pipeline summary.
META_WALL_SECONDS = "wall_seconds"
META_ROWS = "rows"
META_BLESSED = "blessed"
# The served version a blessing was judged against (None: no model was served); push refuses the
# model when LATEST has moved since, so a model is never pushed over one it was not compared with.
META_JUDGED_AGAINST = "judged_against"
META_PUSHED_TO = "pushed_to"

# Serving (`kubetfx serve`, KServe's model server) and monitoring.
# The model's name in KServe's routes (/v1/models/recommender:predict), push's manifests and `kubetfx
# serve`; stays here until push takes the serving names as parameters (issue 11's pusher).
SERVING_MODEL_NAME = "recommender"
SERVING_PORT = 8080  # KServe's and Vertex AI's default container port
SERVING_MOUNT = "/mnt/models"  # where KServe's storage initializer puts the model named by STORAGE_URI
REQUEST_LOG_PREFIX = "requests-"
REQUEST_LOG_SUFFIX = ".jsonl"
INFERENCE_SERVICE_FILE = "inferenceservice.yaml"  # inside push's pushed_model artifact
VERTEX_UPLOAD_FILE = "vertex_upload_model_request.json"  # inside push's pushed_model artifact
TASK_MONITOR = "monitor"
MONITOR_RESULT_FILE = "monitor.json"
