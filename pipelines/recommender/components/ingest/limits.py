"""Ingest's data-quality limits: how much of each data problem a run tolerates.

Each field is also a parameter of the ingest component and of the recommender pipeline, under the
same name, so that a user of the compiled spec sets them (`kubetfx run|submit --param
max_duplicate_share=0.2`). Kept apart from the executor so that the pipeline and the parameter
checks of `kubetfx run` and `kubetfx submit` read the defaults and the rule without pandas.
"""
import dataclasses
import numbers


def share_problem(name: str, value) -> str:
    """Why `value` cannot be the limit `name` (empty when it can)."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and 0.0 <= value <= 1.0:
        return ""
    return (f"{name} is {value!r}; it is a share of the interaction rows, a number from 0 to 1 "
            "(0: none tolerated, 1: no limit)")


@dataclasses.dataclass(frozen=True)
class QualityLimits:
    """How much of each data problem a run tolerates before ingest fails it (shares of the
    interaction rows, 0 to 1); every problem is counted in the report and the run summary either way."""

    max_duplicate_share: float = 0.1  # rows identical, in every column, to an earlier row
    max_unknown_user_share: float = 0.1  # interactions whose user is not in the users table
    max_unknown_item_share: float = 0.1  # interactions whose item is not in the items table
    max_non_finite_share: float = 0.0  # ratings or timestamps that are inf or -inf

    def __post_init__(self):
        for field in dataclasses.fields(self):
            problem = share_problem(field.name, getattr(self, field.name))
            if problem:
                raise ValueError(problem)


PARAMETERS = tuple(field.name for field in dataclasses.fields(QualityLimits))
DEFAULTS = QualityLimits()
