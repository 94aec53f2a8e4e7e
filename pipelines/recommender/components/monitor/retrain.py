"""The hook through which the monitor starts the training pipeline again on new data.

A `Retrainer` takes a `RetrainRequest` and starts a run, returning where to follow it. The monitor
only calls the hook it is given; the retrainers themselves run pipelines and live with the
application (`kubetfx.retrain`: `local`, `submitted`).
"""
import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class RetrainRequest:
    """The new data to train on, and why training is asked for."""

    interactions_uri: str
    users_uri: str = ""
    items_uri: str = ""
    reasons: tuple[str, ...] = ()

    def pipeline_arguments(self) -> dict:
        """The recommender pipeline's data parameters."""
        return {"interactions_uri": self.interactions_uri, "users_uri": self.users_uri, "items_uri": self.items_uri}


Retrainer = Callable[[RetrainRequest], str]
