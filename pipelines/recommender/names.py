"""The recommender wing's names: the shared kernel's (re-exported, so that the wing reads one
module) and the recommender's own, defined once here."""
from kubetfx.components.common.names import *  # noqa: F403 (the kernel's names)

# Canonical column names of the interaction data the recommender reads.
USER_ID = "user_id"
ITEM_ID = "item_id"
TIMESTAMP = "timestamp"
RATING = "rating"

# Bound on ids, shared by ingest (which refuses longer ones naming the row) and serve (400), as the
# kernel's MAX_TEXT_LENGTH is for string features.
MAX_ID_LENGTH = 256  # characters of a user or item id

# Per-instance request fields besides the model's features.
REQUEST_EXCLUDE = "exclude"
REQUEST_K = "k"
