"""Turns a request into a checked `Batch`, or refuses it with a message naming what is wrong.

Requests come in KServe's v1 protocol (`{"instances": [{feature: value, ..., "exclude": [...],
"k": n}]}`) or its v2 protocol (one tensor per feature, `k` as a request parameter, `exclude` as
an optional `[batch, m]` BYTES tensor padded with empty strings). Every refusal is KServe's
`InvalidInput`, which the server answers with 400 and `{"error": message}`.
"""
import math

from kserve.errors import InvalidInput

from kubetfx.pipelines.recommender import explain, names
from kubetfx.pipelines.recommender.serving.loaded import INTEGER, ITEMS, NUMBER, OPTIONAL_KINDS, STRING, Batch

_INT64 = (-(2 ** 63), 2 ** 63 - 1)
_V2_TYPES = {STRING: ("BYTES",), INTEGER: ("INT64", "INT32", "INT16", "INT8", "UINT32", "UINT16", "UINT8"),
             NUMBER: ("FP32", "FP64", "INT64", "INT32", "INT16", "INT8")}
_V2_WANTED = {STRING: "BYTES", INTEGER: "INT64 (or another integer type)", NUMBER: "FP32 (or another number type)"}
_KIND_WORDS = {STRING: "a string", INTEGER: "an integer", NUMBER: "a number", ITEMS: "a list of item ids (strings), optional"}


def from_v1(body, features: dict[str, str], max_instances: int, default_k: int, max_k: int) -> Batch:
    """Checks a v1 body against the model's features (name → kind) and the limits; an instance
    without `k` gets `default_k` items, or the whole catalogue (`max_k`) when that is smaller."""
    if isinstance(body, (bytes, str)):  # KServe passes bodies of other content types through undecoded
        raise InvalidInput("the request body must be JSON, sent with the header 'Content-Type: application/json'")
    if not isinstance(body, dict) or set(body) != {"instances"}:
        found = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise InvalidInput(f"the request body must be a JSON object with one field, 'instances'; found {found}")
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("'instances' must be a non-empty list of objects, one per user")
    _check_count(len(instances), max_instances)
    columns = {name: [] for name in features}
    ks, excludes, explains = [], [], []
    for index, instance in enumerate(instances):
        _check_fields(index, instance, features)
        for name, kind in features.items():
            columns[name].append(_value(index, name, instance[name], kind) if name in instance else None)
        ks.append(_k(f"instance {index}", instance.get(names.REQUEST_K, min(default_k, max_k)), max_k))
        excludes.append(_exclude(index, instance.get(names.REQUEST_EXCLUDE, [])))
        explains.append(_explain(f"instance {index}", instance.get(explain.REQUEST_EXPLAIN, False)))
    return Batch(_optional_lists(columns, features), ks, excludes, tuple(explains))


def _optional_lists(columns: dict, features: dict[str, str]) -> dict:
    """Optional list features: left out when no instance gives one, else [] where one is absent."""
    for name, kind in features.items():
        if kind in OPTIONAL_KINDS:
            given = any(value is not None for value in columns[name])
            columns[name] = [[] if value is None else value for value in columns[name]] if given else None
    return {name: values for name, values in columns.items() if values is not None}


def _check_count(count: int, max_instances: int) -> None:
    if count > max_instances:
        raise InvalidInput(f"{count} instances in one request; at most {max_instances} are accepted, send several requests")


def _check_fields(index: int, instance, features: dict[str, str]) -> None:
    if not isinstance(instance, dict):
        raise InvalidInput(f"instance {index}: expected an object of features, got {_json_type(instance)}")
    _check_names(instance, features, (names.REQUEST_EXCLUDE, names.REQUEST_K, explain.REQUEST_EXPLAIN),
                 f"instance {index}: ", "field", "feature")


def _check_names(given, features: dict[str, str], optional: tuple[str, ...], where: str, unknown_word: str,
                 missing_word: str) -> None:
    """Refuses the first name the model does not take, then the first feature it needs and lacks."""
    unknown = sorted(set(given) - set(features) - set(optional))
    if unknown:
        raise InvalidInput(f"{where}unknown {unknown_word} '{unknown[0]}'; the model takes {_listed(features)} "
                           f"and optionally {' and '.join(repr(name) for name in optional)}")
    missing = sorted({name for name, kind in features.items() if kind not in OPTIONAL_KINDS} - set(given))
    if missing:
        raise InvalidInput(f"{where}missing {missing_word} '{missing[0]}'; the model needs {_listed(features)}")


def _value(index: int, name: str, value, kind: str):
    if _is_kind(value, kind):
        _check_length(f"instance {index}: feature '{name}'", name, value)
        return value
    raise InvalidInput(f"instance {index}: feature '{name}' must be {_KIND_WORDS[kind]}, "
                       f"got {_json_type(value)} {_quoted(value)}")


def _is_kind(value, kind: str) -> bool:
    if isinstance(value, bool):
        return False
    if kind == STRING:
        return isinstance(value, str)
    if kind == ITEMS:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if kind == INTEGER:
        return isinstance(value, int) and _INT64[0] <= value <= _INT64[1]
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check_length(where: str, name: str, value) -> None:
    """Ids and text are bounded as ingest bounds them, so that one request cannot bloat the request
    log (and the monitor that reads it)."""
    limit = names.MAX_ID_LENGTH if name in (names.USER_ID, names.ITEM_ID, names.REQUEST_EXCLUDE) else names.MAX_TEXT_LENGTH
    if isinstance(value, str) and len(value) > limit:
        raise InvalidInput(f"{where} has {len(value):,} characters; at most {limit:,} are accepted")


def _k(where: str, k, max_k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
        raise InvalidInput(f"{where}: '{names.REQUEST_K}' must be an integer from 1 to {max_k} "
                           f"(the catalogue's size), got {_quoted(k)}")
    return k


def _explain(where: str, value) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{where}: '{explain.REQUEST_EXPLAIN}' must be true or false, got {_quoted(value)}")
    return value


def _exclude(index: int, exclude) -> frozenset[str]:
    if not isinstance(exclude, list) or not all(isinstance(item, str) for item in exclude):
        raise InvalidInput(f"instance {index}: '{names.REQUEST_EXCLUDE}' must be a list of item ids (strings), "
                           f"got {_quoted(exclude)}")
    for item in exclude:
        _check_length(f"instance {index}: an item id in '{names.REQUEST_EXCLUDE}'", names.REQUEST_EXCLUDE, item)
    return frozenset(exclude)


def from_v2(request, features: dict[str, str], max_instances: int, default_k: int, max_k: int) -> Batch:
    """Checks a v2 `InferRequest`: one [batch] tensor per feature, optional `exclude`, `k` as a parameter."""
    inputs = {tensor.name: tensor for tensor in request.inputs}
    _check_names(inputs, features, (names.REQUEST_EXCLUDE,), "", "input", "input")
    columns = {name: _v2_items(inputs[name]) if kind == ITEMS else _v2_column(inputs[name], kind)
               for name, kind in features.items() if name in inputs}
    count = len(next(iter(columns.values()))) if columns else 0
    if count == 0 or any(len(values) != count for values in columns.values()):
        raise InvalidInput(f"every input must hold the same number of instances, at least one; got "
                           f"{ {name: len(values) for name, values in columns.items()} }")
    _check_count(count, max_instances)
    k = _k("parameters", (request.parameters or {}).get(names.REQUEST_K, min(default_k, max_k)), max_k)
    excludes = _v2_excludes(inputs.get(names.REQUEST_EXCLUDE), count)
    explains = _explain("parameters", (request.parameters or {}).get(explain.REQUEST_EXPLAIN, False))
    return Batch(columns, [k] * count, excludes, (explains,) * count)


def _v2_column(tensor, kind: str) -> list:
    if tensor.datatype not in _V2_TYPES[kind]:
        raise InvalidInput(f"input '{tensor.name}' must have datatype {_V2_WANTED[kind]}, got {tensor.datatype}")
    shape = list(tensor.shape)
    if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
        raise InvalidInput(f"input '{tensor.name}' must have shape [batch] or [batch, 1], got {shape}")
    values = _flat(tensor.data)
    if len(values) != shape[0]:
        raise InvalidInput(f"input '{tensor.name}' has {len(values)} values for shape {shape}")
    if kind == STRING:
        strings = [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in values]
        for value in strings:
            _check_length(f"input '{tensor.name}': a value", tensor.name, value)
        return strings
    if not all(_is_kind(value, kind) for value in values):
        raise InvalidInput(f"input '{tensor.name}' must hold {_KIND_WORDS[kind].split(' ', 1)[1]}s only")
    return values


def _v2_items(tensor) -> list[list[str]]:
    """An optional list input: BYTES of shape [batch, m], item ids padded with empty strings."""
    shape = list(tensor.shape)
    if tensor.datatype != "BYTES" or len(shape) != 2:
        raise InvalidInput(f"input '{tensor.name}' must be BYTES of shape [batch, m] (item ids, padded with empty "
                           f"strings); got {tensor.datatype} {shape}")
    values = [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in _flat(tensor.data)]
    if len(values) != shape[0] * shape[1]:
        raise InvalidInput(f"input '{tensor.name}' has {len(values)} values for shape {shape}")
    return [[item for item in values[row * shape[1]:(row + 1) * shape[1]] if item] for row in range(shape[0])]


def _v2_excludes(tensor, count: int) -> list[frozenset[str]]:
    if tensor is None:
        return [frozenset()] * count
    shape = list(tensor.shape)
    if tensor.datatype != "BYTES" or len(shape) != 2 or shape[0] != count:
        raise InvalidInput(f"input '{names.REQUEST_EXCLUDE}' must be BYTES of shape [{count}, m] "
                           f"(item ids, padded with empty strings); got {tensor.datatype} {shape}")
    values = [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in _flat(tensor.data)]
    if len(values) != count * shape[1]:
        raise InvalidInput(f"input '{names.REQUEST_EXCLUDE}' has {len(values)} values for shape {shape}")
    for item in values:
        _check_length(f"input '{names.REQUEST_EXCLUDE}': an item id", names.REQUEST_EXCLUDE, item)
    width = shape[1]
    return [frozenset(item for item in values[row * width:(row + 1) * width] if item) for row in range(count)]


def _flat(data) -> list:
    flat = []
    for value in data:
        flat.extend(_flat(value) if isinstance(value, list) else [value])
    return flat


def _listed(features: dict[str, str]) -> str:
    return ", ".join(f"'{name}' ({_KIND_WORDS[kind]})" for name, kind in features.items())


def _json_type(value) -> str:
    for kind, word in ((bool, "a boolean"), (str, "a string"), (int, "an integer"), (float, "a number"),
                       (list, "a list"), (dict, "an object"), (type(None), "null")):
        if isinstance(value, kind):
            return word
    return type(value).__name__


def _quoted(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
