"""Errors a user can act on: each names the culprit and what was expected."""


class KubetfxError(Exception):
    """An error caused by the user's input or configuration, with what to do about it."""


class InputDataError(KubetfxError):
    """Input data is missing, unreadable or not shaped as expected."""


class ValidationError(KubetfxError):
    """The data has blocking anomalies against the schema."""


class TransformError(KubetfxError):
    """Transform's output does not hold what it read."""


class ModuleFileError(KubetfxError):
    """The user's module file cannot be loaded or lacks a required function."""


class ModelContractError(KubetfxError):
    """The exported model does not expose what the later steps need."""


class PushError(KubetfxError):
    """A model could not be pushed; what was served before is untouched."""


class TrainingJobError(KubetfxError):
    """A distributed training job could not be started, or failed."""


class ServingError(KubetfxError):
    """A model cannot be served: nothing pushed yet, or the model breaks the contract."""


class PointerError(ServingError):
    """The serving root's LATEST pointer cannot be read as a pointer to a version."""


class StorageError(KubetfxError):
    """Remote storage (gs://) cannot be reached or refuses access: credentials or network."""


class MonitorError(KubetfxError):
    """The monitor cannot compare: statistics, logs or data missing or unreadable."""


class SubmitError(KubetfxError):
    """A run could not be submitted: its configuration is incomplete or wrong, or the service refused it."""
