"""A stand-in Kubeflow Pipelines API server that holds every request to the published v2beta1 schema.

It serves on 127.0.0.1 (an ephemeral port, in a thread) and reads the swagger files in
`tests/contracts/kubeflow-pipelines-v2beta1/` (see its README): a request is accepted only when its method and
path are an operation there, its query and form fields are declared parameters of that operation,
and its JSON body validates against the referenced definition (with `$ref`s resolved, and no field
the definition lacks: the API server's JSON decoding refuses unknown fields). Anything else is
recorded in `violations` and answered 400. Answers are validated against the operation's 200
schema before they are sent, so a stub that drifts from the contract fails too.
"""
import dataclasses
import email.parser
import email.policy
import http.server
import ipaddress
import itertools
import json
import pathlib
import re
import socket
import threading
import urllib.parse

import jsonschema

CONTRACTS = pathlib.Path(__file__).resolve().parent / "contracts" / "kubeflow-pipelines-v2beta1"
CREATED_AT = "2026-01-01T00:00:00Z"


def _strict(schema):
    """The schema with `additionalProperties: false` on every object that lists its properties."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if "properties" in schema and "additionalProperties" not in schema:
        strict["additionalProperties"] = False
    return strict


@dataclasses.dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern
    spec: dict
    definitions: dict

    def parameters(self, where: str) -> dict:
        return {p["name"]: p for p in self.spec.get("parameters", []) if p["in"] == where}

    def validator(self, schema: dict) -> jsonschema.Draft4Validator:
        return jsonschema.Draft4Validator({**_strict(schema), "definitions": _strict(self.definitions)})


class Contract:
    """The operations of every swagger file in the folder."""

    def __init__(self, folder: pathlib.Path = CONTRACTS):
        self.operations = []
        for path in sorted(folder.glob("*.swagger.json")):
            document = json.loads(path.read_text())
            for template, methods in document["paths"].items():
                pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "([^/:]+)", re.escape(template)) + "$")
                for method, spec in methods.items():
                    self.operations.append(Operation(method.upper(), template, pattern, spec, document["definitions"]))
        # Literal paths before templated ones: /pipelines/upload is not /pipelines/{pipeline_id}.
        self.operations.sort(key=lambda operation: operation.template.count("{"))

    def match(self, method: str, path: str):
        for operation in self.operations:
            found = operation.pattern.match(path)
            if operation.method == method and found:
                names = re.findall(r"\{([^}]+)\}", operation.template)
                return operation, dict(zip(names, found.groups()))
        return None, {}

    def check(self, operation: Operation, query: dict, headers, body: bytes) -> list[str]:
        """What in the request the operation does not allow (empty when all is well)."""
        problems = []
        declared = operation.parameters("query")
        for name, values in query.items():
            if name not in declared:
                problems.append(f"query parameter {name} is not declared")
            elif not _typed_ok(declared[name].get("type"), values[0]):
                problems.append(f"query parameter {name}={values[0]} is not {declared[name]['type']}")
        problems += [f"required query parameter {name} missing" for name, p in declared.items()
                     if p.get("required") and name not in query]
        body_parameters = operation.parameters("body")
        form_parameters = operation.parameters("formData")
        if form_parameters:
            problems += self._check_form(form_parameters, operation, headers, body)
        elif body_parameters:
            problems += self._check_json(next(iter(body_parameters.values())), operation, headers, body)
        elif body:
            problems.append("a body where the operation takes none")
        return problems

    @staticmethod
    def _check_json(parameter: dict, operation: Operation, headers, body: bytes) -> list[str]:
        if not headers.get("Content-Type", "").startswith("application/json"):
            return [f"body sent as {headers.get('Content-Type')}, not application/json"]
        try:
            document = json.loads(body or b"null")
        except json.JSONDecodeError as error:
            return [f"body is not JSON: {error}"]
        if document is None:
            return ["required body missing"] if parameter.get("required") else []
        return [f"body: {error.message} at {list(error.absolute_path)}"
                for error in operation.validator(parameter["schema"]).iter_errors(document)]

    @staticmethod
    def _check_form(declared: dict, operation: Operation, headers, body: bytes) -> list[str]:
        content_type = headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data") or "multipart/form-data" not in operation.spec["consumes"]:
            return [f"form sent as {content_type}, not multipart/form-data"]
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        problems, sent = [], set()
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            sent.add(name)
            if name not in declared:
                problems.append(f"form field {name} is not declared")
            elif declared[name]["type"] == "file" and not part.get_filename():
                problems.append(f"form field {name} is not a file")
        return problems + [f"required form field {name} missing" for name, p in declared.items()
                           if p.get("required") and name not in sent]

    def check_answer(self, operation: Operation, answer: dict) -> list[str]:
        schema = operation.spec["responses"]["200"]["schema"]
        return [f"answer: {error.message}" for error in operation.validator(schema).iter_errors(answer)]


def _typed_ok(kind: str, text: str) -> bool:
    if kind == "integer":
        return re.fullmatch(r"-?\d+", text) is not None
    if kind == "boolean":
        return text in ("true", "false")
    return True


def form_files(headers, body: bytes) -> dict:
    """The files of a multipart form: field name to (file name, bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {headers['content-type']}\r\n\r\n".encode() + body)
    return {part.get_param("name", header="content-disposition"): (part.get_filename(), part.get_payload(decode=True))
            for part in message.iter_parts()}


@dataclasses.dataclass
class Request:
    method: str
    path: str
    operation: str  # the swagger operationId
    query: dict
    headers: dict  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body)


class FakeKfp:
    """The stand-in server's state: pipelines, versions, experiments, runs, as the API reports them."""

    def __init__(self, contract: Contract, token: str = "", run_states=("SUCCEEDED",)):
        self.contract, self.token = contract, token
        self.requests: list[Request] = []
        self.violations: list[str] = []
        self.pipelines, self.versions, self.experiments, self.runs, self.recurring_runs = {}, {}, {}, {}, {}
        self.run_states = list(run_states)  # what successive reads of a run report; the last one stays
        self._ids = itertools.count(1)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._server.shutdown()
        self._server.server_close()

    def operations(self) -> list[str]:
        return [request.operation for request in self.requests]

    def add_pipeline(self, name: str, namespace: str = "") -> str:
        pipeline_id = self._new_id("pipeline")
        self.pipelines[pipeline_id] = {"pipeline_id": pipeline_id, "name": name, "display_name": name,
                                       "created_at": CREATED_AT, **({"namespace": namespace} if namespace else {})}
        self._add_version(pipeline_id, name, b"")
        return pipeline_id

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    def _add_version(self, pipeline_id: str, name: str, package: bytes, description: str = "") -> dict:
        version_id = self._new_id("version")
        self.versions[version_id] = {"pipeline_id": pipeline_id, "pipeline_version_id": version_id, "name": name,
                                     "display_name": name, "description": description,
                                     "created_at": f"2026-01-01T00:00:{len(self.versions):02d}Z", "package": package}
        return self.versions[version_id]

    # Handlers, by operationId: (path parameters, query, request) -> answer (a dict shaped per the 200 schema).

    def PipelineService_ListPipelines(self, _, query, __):  # noqa: N802 (named as the operation)
        found = [p for p in self.pipelines.values() if _matches(p, query)]
        return {"pipelines": found, "total_size": len(found)} if found else {"total_size": 0}

    def UploadPipeline(self, _, query, request):  # noqa: N802
        name = query["name"][0]
        pipeline_id = self._new_id("pipeline")
        self.pipelines[pipeline_id] = {"pipeline_id": pipeline_id, "name": name, "display_name": name,
                                       "description": query.get("description", [""])[0], "created_at": CREATED_AT}
        if "namespace" in query:
            self.pipelines[pipeline_id]["namespace"] = query["namespace"][0]
        # As the API server does, the first version is named after the pipeline.
        self._add_version(pipeline_id, name, form_files(request.headers, request.body)["uploadfile"][1])
        return self.pipelines[pipeline_id]

    def UploadPipelineVersion(self, _, query, request):  # noqa: N802
        version = self._add_version(query["pipelineid"][0], query["name"][0],
                                    form_files(request.headers, request.body)["uploadfile"][1],
                                    query.get("description", [""])[0])
        return _public(version)

    def PipelineService_ListPipelineVersions(self, path, query, _):  # noqa: N802
        found = [_public(v) for v in self.versions.values()
                 if v["pipeline_id"] == path["pipeline_id"] and _matches(v, query)]
        found.sort(key=lambda v: v["created_at"], reverse="desc" in query.get("sort_by", [""])[0])
        found = found[:int(query["page_size"][0])] if "page_size" in query else found
        return {"pipeline_versions": found, "total_size": len(found)} if found else {"total_size": 0}

    def ExperimentService_ListExperiments(self, _, query, __):  # noqa: N802
        found = [e for e in self.experiments.values() if _matches(e, query)]
        return {"experiments": found, "total_size": len(found)} if found else {"total_size": 0}

    def ExperimentService_CreateExperiment(self, _, __, request):  # noqa: N802
        experiment = {**request.json(), "experiment_id": self._new_id("experiment"), "created_at": CREATED_AT}
        self.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def RunService_CreateRun(self, _, __, request):  # noqa: N802
        run = {**request.json(), "run_id": self._new_id("run"), "created_at": CREATED_AT, "state": "PENDING"}
        self.runs[run["run_id"]] = run
        return run

    def RunService_GetRun(self, path, _, __):  # noqa: N802
        state = self.run_states.pop(0) if len(self.run_states) > 1 else self.run_states[0]
        return {**self.runs[path["run_id"]], "state": state}

    def RecurringRunService_CreateRecurringRun(self, _, __, request):  # noqa: N802
        recurring_run = {**request.json(), "recurring_run_id": self._new_id("recurring"), "created_at": CREATED_AT,
                         "status": "ENABLED"}
        self.recurring_runs[recurring_run["recurring_run_id"]] = recurring_run
        return recurring_run

    def _handler(self):
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_GET(self):  # noqa: N802
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def do_PATCH(self):  # noqa: N802
                self._serve("PATCH")

            def do_DELETE(self):  # noqa: N802
                self._serve("DELETE")

            def _serve(self, method: str):
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                operation, path_parameters = fake.contract.match(method, url.path)
                if operation is None:
                    return self._refuse(f"{method} {url.path} is no operation of the v2beta1 API")
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = Request(method, url.path, operation.spec["operationId"], query, headers, body)
                fake.requests.append(request)
                if fake.token and self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(401, {"code": 16, "message": "missing or wrong bearer token"})
                problems = fake.contract.check(operation, query, self.headers, body)
                if problems:
                    return self._refuse(f"{method} {url.path}: " + "; ".join(problems))
                handle = getattr(fake, operation.spec["operationId"], None)
                if handle is None:
                    return self._refuse(f"{operation.spec['operationId']} is allowed, but this stand-in does not serve it")
                answer = handle(path_parameters, query, request)
                problems = fake.contract.check_answer(operation, answer)
                if problems:
                    return self._refuse(f"the stand-in's answer to {method} {url.path}: " + "; ".join(problems))
                self._answer(200, answer)

            def _refuse(self, problem: str):
                fake.violations.append(problem)
                self._answer(400, {"code": 3, "message": problem})

            def _answer(self, status: int, document: dict):
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _public(version: dict) -> dict:
    return {key: value for key, value in version.items() if key != "package"}


def _matches(item: dict, query: dict) -> bool:
    """Whether `item` passes the request's namespace and its filter's EQUALS predicates."""
    if "namespace" in query and item.get("namespace", "") != query["namespace"][0]:
        return False
    predicates = json.loads(query["filter"][0])["predicates"] if "filter" in query else []
    for predicate in predicates:
        assert predicate["operation"] in ("EQUALS", 1), predicate
        value = predicate.get("string_value", predicate.get("stringValue"))
        if item.get(predicate["key"]) != value:
            return False
    return True


def refuse_non_loopback(monkeypatch) -> None:
    """Makes any connection to an address other than loopback fail the test that tried it."""
    connect = socket.socket.connect

    def loopback_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not ipaddress.ip_address(address[0]).is_loopback:
            raise AssertionError(f"a test tried to reach {address[0]}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_connect)
