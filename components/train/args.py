"""The trainer's arguments, defined once: what the train component hands the executor in its own
pod, and what it hands each pod of a TFJob as command-line flags (`worker.py` reads them back)."""
import argparse
import dataclasses
import json


@dataclasses.dataclass(frozen=True)
class TrainArgs:
    """The train executor's inputs, outputs and parameters as paths or URIs and plain values.

    Each of the first thirteen is the train component's input or output of the same name
    (tests/test_train_interface.py holds them together). `best_hyperparameters`: the tuner's
    output folder (TFX's HyperParameters), empty for none; `model_check`: a `module:function`
    (module as in `module_file`) called with the loaded serving model and its folder after run_fn,
    empty for none. Not in the component: `cpu_replicas` > 1 asks for MirroredStrategy over that many
    logical CPUs (tests, benchmarks); `figures` is where the chief writes its figures as JSON
    (how a TFJob launcher learns them).
    """

    transformed_examples: str
    transform_graph: str
    schema: str
    module_file: str
    model: str
    model_run: str
    report: str
    train_steps: int
    eval_steps: int
    hyperparameters: dict = dataclasses.field(default_factory=dict)
    custom_config: dict = dataclasses.field(default_factory=dict)
    best_hyperparameters: str = ""
    model_check: str = ""
    cpu_replicas: int = 0
    figures: str = ""

    def argv(self) -> list[str]:
        """The command-line flags that `parse` reads back into these arguments."""
        flags = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            flags += [_flag(field.name), json.dumps(value) if isinstance(value, dict) else str(value)]
        return flags

    @classmethod
    def parse(cls, argv: list[str] | None, prog: str = "") -> "TrainArgs":
        """Reads back the flags `argv` writes (the process's own when `argv` is None)."""
        parser = argparse.ArgumentParser(prog=prog or None, description=cls.__doc__.splitlines()[0])
        readers = {str: str, int: int, dict: json.loads}
        for field in dataclasses.fields(cls):
            required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
            parser.add_argument(_flag(field.name), dest=field.name, type=readers[field.type], required=required)
        parsed = {name: value for name, value in vars(parser.parse_args(argv)).items() if value is not None}
        return cls(**parsed)


def _flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")
