"""Names shared by components, pipelines and tests, defined once.

Artifact layouts follow TFX's conventions (`Split-<name>/` folders of TFRecord files of
`tf.Example`s), so TFX tools and users' habits carry over.
"""

TRAIN = "train"
EVAL = "eval"
SPLITS = (TRAIN, EVAL)

SPLIT_PREFIX = "Split-"
EXAMPLES_FILE_PREFIX = "data_tfrecord"
EXAMPLES_FILE_SUFFIX = ".gz"

# Canonical column names of the data the pipeline reads.
USER_ID = "user_id"
ITEM_ID = "item_id"
TIMESTAMP = "timestamp"
RATING = "rating"

# Files inside artifacts.
SCHEMA_FILE = "schema.pbtxt"
FEATURE_STATS_FILE = "FeatureStats.pb"
STATISTICS_JSON = "statistics.json"
ANOMALIES_FILE = "anomalies.json"
BLESSING_FILE = "blessing.json"
EVAL_RESULT_FILE = "evaluation.json"
SERVING_MODEL_SUBDIR = "Format-Serving"
MODEL_RUN_SUBDIR = "model_run"
LATEST_POINTER = "LATEST"

# Signatures every serving model must expose (the kubetfx model contract).
SIGNATURE_RECOMMEND = "serving_default"
SIGNATURE_SCORE_CATALOGUE = "score_catalogue"
SIGNATURE_CATALOGUE = "catalogue"
REQUIRED_SIGNATURES = (SIGNATURE_RECOMMEND, SIGNATURE_SCORE_CATALOGUE, SIGNATURE_CATALOGUE)

# Task names in the compiled spec.
TASK_INGEST = "ingest"
TASK_VALIDATE = "validate"
TASK_TRANSFORM = "transform"
TASK_TRAIN = "train"
TASK_EVALUATE = "evaluate"
TASK_PUSH = "push"
STEPS = (TASK_INGEST, TASK_VALIDATE, TASK_TRANSFORM, TASK_TRAIN, TASK_EVALUATE, TASK_PUSH)

# Metadata keys written on artifacts, read by the pipeline summary.
META_WALL_SECONDS = "wall_seconds"
META_ROWS = "rows"
META_BLESSED = "blessed"
META_PUSHED_TO = "pushed_to"
