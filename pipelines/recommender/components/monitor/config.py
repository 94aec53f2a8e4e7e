"""Typed settings of the monitor, built by the KFP interface, the CLI or a caller.

Kept free of heavy imports: the CLI reads its defaults to build `kubetfx monitor --help`.
"""
import dataclasses

# The reference recommender's user features (pipelines/recommender/module.py): Jensen-Shannon for
# age; L-infinity for the categories, above the sampling noise of a thousand users with
# long-tailed activity (up to about 0.08).
DEFAULT_THRESHOLDS = {"age": 0.1, "gender": 0.15, "occupation": 0.15}


@dataclasses.dataclass(frozen=True)
class MonitorConfig:
    # feature → the largest distance that is not drift (JS divergence or L-infinity); only these are judged
    thresholds: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    max_unknown_user_share: float = 0.2
    max_unknown_item_share: float = 0.01
    max_skew_share: float = 0.01  # request log: share of known users' requests whose features disagree
    salt: bytes = b""  # the request log's salt; without it, logged users cannot be matched to training's
    allow_retrain: bool = True
    # Concept drift (request log + outcomes, see concept.py): interactions this long after an
    # answer judge it; a relative drop of the latest day's online hit rate or nDCG beyond
    # max_online_drop, against the days before, is drift.
    outcome_window_seconds: float = 7 * 24 * 3600.0
    max_online_drop: float = 0.2
