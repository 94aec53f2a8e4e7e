"""`kubetfx submit`: a compiled spec to a run on Kubeflow Pipelines (v2beta1 API) or Vertex AI.

Nothing leaves the machine until everything that can be checked here has been: the run's parameters
against the compiled spec, the schedule, the pipeline root, and (Kubeflow) that the host answers.
Then the local files the run reads go to the pipeline root (google-cloud-storage), and the spec and
the run go to the service. Configuration comes in typed (`RunConfig`, `KfpConfig`, `VertexConfig`);
nothing here reads the environment.
"""
import contextlib
import dataclasses
import datetime
import functools
import hashlib
import json
import pathlib
import re
import time
from typing import Callable

import yaml

from kubetfx.components.common.errors import SubmitError
from kubetfx.components.push.manifests import (CANARY_TRAFFIC_PERCENT, REQUEST_LOG_ROOT, REQUEST_LOG_SALT_URI,
                                               canary_problem, request_log_problem)
from kubetfx.pipelines.recommender.components.ingest import limits as quality_limits
from kubetfx.version import __version__

GCS = "gs://"
INPUTS_FOLDER = "kubetfx-inputs"  # under the pipeline root: the local files a run reads, by content
DEFAULT_EXPERIMENT = "Default"  # KFP's default experiment; a multi-user run needs one in its namespace
KFP_CRON_FIELDS = 6  # KFP's cron has a seconds field first: "0 0 3 * * *"
VERTEX_CRON_FIELDS = 5  # standard cron, optionally after "TZ=<zone> "
SUCCEEDED = ("SUCCEEDED", "SKIPPED")
FAILED = ("FAILED", "CANCELED", "CANCELLED")  # Vertex AI spells it CANCELLED
VERTEX_CONSOLE = "https://console.cloud.google.com/vertex-ai"
_JSON_TYPES = {"NUMBER_INTEGER": int, "NUMBER_DOUBLE": (int, float), "BOOLEAN": bool, "LIST": list, "STRUCT": dict}
# Parameters whose values have a rule beyond their type: name -> why a value breaks it (empty when
# it does not). `kubetfx run` and `kubetfx submit` apply them before anything runs or is sent.
VALUE_RULES: dict[str, Callable[[object], str]] = {
    CANARY_TRAFFIC_PERCENT: canary_problem,
    **{name: functools.partial(quality_limits.share_problem, name) for name in quality_limits.PARAMETERS},
}
_LABEL = re.compile(r"[a-z][a-z0-9_-]{0,62}")  # Vertex AI label keys; values may also start with a digit or be empty
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """What to run and how, whichever the target."""

    spec_path: str
    parameters: dict = dataclasses.field(default_factory=dict)  # name: text from the command line, or a value
    pipeline_root: str = ""  # empty: the cluster's default (Kubeflow only)
    run_name: str = ""  # empty: "<pipeline> <version> <time>"
    experiment: str = ""
    schedule: str = ""  # cron expression: a recurring run instead of one run now
    service_account: str = ""  # Kubernetes service account (Kubeflow) or service account email (Vertex AI)
    wait: bool = False
    timeout_s: float = 0.0  # with wait; 0: no limit
    poll_s: float = 15.0


@dataclasses.dataclass(frozen=True)
class KfpConfig:
    """A Kubeflow Pipelines API server and how to authenticate to it, as the KFP SDK client does."""

    host: str
    token: str = ""  # a bearer token obtained outside (kfp.Client's existing_token)
    credentials: object = None  # a kfp.client.TokenCredentialsBase, e.g. ServiceAccountTokenVolumeCredentials
    cookie: str = ""  # e.g. a Dex `authservice_session=...` cookie
    namespace: str = ""  # multi-user installs: the profile namespace; empty: single-user
    ui_host: str = ""  # where the UI is, when not at `host`
    verify_ssl: bool = True
    ssl_ca_cert: str = ""
    timeout_s: float = 30.0  # per request


@dataclasses.dataclass(frozen=True)
class VertexConfig:
    """A Google Cloud project and region for Vertex AI Pipelines."""

    project: str
    region: str
    labels: dict = dataclasses.field(default_factory=dict)
    enable_caching: bool | None = None  # None: as compiled (evaluate and push never cached); False: no caching
    credentials: object = None  # google.auth credentials; None: Application Default Credentials


@dataclasses.dataclass(frozen=True)
class Spec:
    """What submission needs from a compiled pipeline spec."""

    path: str
    name: str
    description: str
    parameters: dict  # name: the spec's input definition (parameterType, isOptional, defaultValue, description)
    digest: str  # sha256 of the file

    @classmethod
    def load(cls, path: str) -> "Spec":
        try:
            raw = pathlib.Path(path).read_bytes()
            spec = yaml.safe_load(raw)
            parameters = spec["root"].get("inputDefinitions", {}).get("parameters", {})
            return cls(path=path, name=spec["pipelineInfo"]["name"],
                       description=spec["pipelineInfo"].get("description", ""), parameters=parameters,
                       digest=hashlib.sha256(raw).hexdigest())
        except OSError as error:
            raise SubmitError(f"cannot read the compiled spec {path} ({error.strerror}): run `make compile`") from None
        except (yaml.YAMLError, KeyError, TypeError, AttributeError):
            raise SubmitError(f"{path} is not a compiled KFP pipeline spec") from None

    @property
    def required(self) -> list[str]:
        return sorted(name for name, spec in self.parameters.items() if not spec.get("isOptional"))


@dataclasses.dataclass(frozen=True)
class Upload:
    """A local file a run reads, and where in the pipeline root it goes."""

    parameter: str
    local_path: str
    uri: str


@dataclasses.dataclass(frozen=True)
class Submission:
    """A run checked against its spec, ready to go: nothing here has touched the network."""

    spec: Spec
    parameters: dict  # typed, local files still local
    uploads: list[Upload]
    version: str
    display_name: str
    job_id: str  # Vertex AI's pipeline job id

    def staged_parameters(self) -> dict:
        return {**self.parameters, **{upload.parameter: upload.uri for upload in self.uploads}}


def prepare(run: RunConfig, revision: str, now: datetime.datetime, cron_fields: int) -> Submission:
    """Checks `run` against its compiled spec and plans the uploads; `revision` is the git revision."""
    spec = Spec.load(run.spec_path)
    parameters = typed_parameters(spec, run.parameters)
    request_log = request_log_problem(parameters.get(REQUEST_LOG_ROOT, ""), parameters.get(REQUEST_LOG_SALT_URI, ""))
    if request_log:
        raise SubmitError(request_log)
    check_cron(run.schedule, cron_fields)
    if run.wait and run.schedule:
        raise SubmitError("--wait follows one run; a schedule starts many: leave one of them out")
    version = version_name(spec.digest, revision)
    display_name = run.run_name or f"{spec.name} {version} {now:%Y-%m-%d %H:%M:%S}"
    job_id = re.sub(r"[^-a-z0-9]+", "-", f"{spec.name}-{now:%Y%m%d-%H%M%S}".lower()).strip("-")
    return Submission(spec=spec, parameters=parameters, uploads=plan_uploads(spec, parameters, run.pipeline_root),
                      version=version, display_name=display_name, job_id=job_id)


def version_name(spec_digest: str, revision: str) -> str:
    """`<package version>-<git revision>-<spec digest>`: a new pipeline version whenever the spec changes,
    committed or not (a spec compiled for another registry differs at the same revision)."""
    return "-".join(part for part in (__version__, revision, spec_digest[:8]) if part)


def typed_parameters(spec: Spec, values: dict) -> dict:
    """`values` as the types the spec declares; unknown names and missing required ones are refused."""
    unknown = sorted(set(values) - set(spec.parameters))
    if unknown:
        raise SubmitError(f"{spec.path} has no parameter {', '.join(unknown)}; it has {', '.join(sorted(spec.parameters))}")
    missing = [name for name in spec.required if values.get(name) in (None, "")]
    if missing:
        described = "; ".join(f"{name}: {spec.parameters[name].get('description', '')}" for name in missing)
        raise SubmitError(f"the run needs {', '.join(missing)} ({described}): pass --param NAME=VALUE or its flag")
    return {name: _typed(name, value, spec.parameters[name]["parameterType"]) for name, value in values.items()}


def _typed(name: str, value, parameter_type: str):
    """A value as JSON of the declared type; text from the command line is parsed (JSON). A
    parameter with a rule (VALUE_RULES) is refused by the rule's own message, which names its range."""
    if parameter_type == "STRING":
        return value if isinstance(value, str) else json.dumps(value)
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        parsed = value  # not JSON: text, which no type but STRING takes
    problem = VALUE_RULES[name](parsed) if name in VALUE_RULES else ""
    if problem:
        raise SubmitError(problem)
    if not isinstance(parsed, _JSON_TYPES.get(parameter_type, ())) or (
            isinstance(parsed, bool) and parameter_type != "BOOLEAN"):  # JSON's true is no number here
        raise SubmitError(f"parameter {name} is {parameter_type}, and '{value}' is not one "
                          "(JSON: 3, 0.5, true, [...], {...})")
    return float(parsed) if parameter_type == "NUMBER_DOUBLE" else parsed


def check_cron(expression: str, fields: int) -> None:
    """A cron expression with the number of fields the target reads (a `TZ=` prefix aside)."""
    if not expression:
        return
    body = re.sub(r"^(CRON_TZ|TZ)=\S+\s+", "", expression.strip())
    if len(body.split()) != fields:
        example = "'0 0 3 * * *' (seconds first)" if fields == KFP_CRON_FIELDS else "'0 3 * * *'"
        raise SubmitError(f"schedule '{expression}' has {len(body.split())} fields; this target reads {fields}, e.g. {example}")


def plan_uploads(spec: Spec, parameters: dict, pipeline_root: str) -> list[Upload]:
    """The string parameters that name files on this machine, each to `<root>/kubetfx-inputs/<sha256>/<name>`.

    Content-addressed, so that resubmitting the same data reuses the upload and KFP's cache still hits.
    """
    local = {name: value for name, value in parameters.items()
             if spec.parameters[name]["parameterType"] == "STRING" and _is_local_file(value)}
    if local and not pipeline_root.startswith(GCS):
        raise SubmitError(f"{', '.join(sorted(local))} name files on this machine; the cluster cannot read them. "
                          f"Pass --pipeline-root gs://... to upload them there, or give URIs the cluster reads")
    root = pipeline_root.rstrip("/")
    return [Upload(parameter=name, local_path=path, uri=f"{root}/{INPUTS_FOLDER}/{_file_digest(path)}/{pathlib.Path(path).name}")
            for name, path in sorted(local.items())]


def _is_local_file(value: str) -> bool:
    if not value or "://" in value:
        return False
    try:
        return pathlib.Path(value).expanduser().is_file()
    except OSError:  # not a path at all: an EvalConfig's JSON is longer than a file name may be
        return False


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(pathlib.Path(path).expanduser(), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def upload_files(uploads: list[Upload], storage_client) -> None:
    """Copies each file to its `gs://` URI with a google-cloud-storage client; an existing copy is the same file."""
    for upload in uploads:
        bucket, _, blob_name = upload.uri[len(GCS):].partition("/")
        blob = storage_client.bucket(bucket).blob(blob_name)
        if not blob.exists():
            blob.upload_from_filename(str(pathlib.Path(upload.local_path).expanduser()))
        print(f"{upload.parameter}: {upload.local_path} -> {upload.uri}")


def follow(state_of: Callable[[], str], run: RunConfig, sleep=time.sleep, clock=time.monotonic) -> int:
    """Polls a run's state until it ends: 0 when it succeeded, 1 when it failed or was cancelled."""
    started, last = clock(), None
    while True:
        state = state_of()
        if state != last:
            print(f"state: {state}", flush=True)
            last = state
        if state in SUCCEEDED:
            return 0
        if state in FAILED:
            return 1
        if run.timeout_s and clock() - started > run.timeout_s:
            raise SubmitError(f"the run is still {state} after {run.timeout_s:.0f} s; it goes on, unwatched")
        sleep(run.poll_s)


# Kubeflow Pipelines.

def submit_kfp(run: RunConfig, config: KfpConfig, revision: str, now: datetime.datetime,
               storage_client: Callable[[], object], sleep=time.sleep) -> int:
    """Uploads the spec as a pipeline (or a new version of it) and starts a run or a recurring run.

    `storage_client` makes a google-cloud-storage client, called only when there are files to upload.
    """
    if not config.host:
        raise SubmitError("no Kubeflow Pipelines host: pass --host or set KFP_HOST (e.g. http://localhost:8080)")
    if not re.match(r"https?://[^/]", config.host):
        raise SubmitError(f"host '{config.host}' is not an http:// or https:// URL")
    submission = prepare(run, revision, now, KFP_CRON_FIELDS)
    api = KfpApi(config)
    pipeline_id = api.find_pipeline(submission.spec.name)  # the first call: a bad host or credentials stop here
    if submission.uploads:
        upload_files(submission.uploads, storage_client())
    pipeline_id, version_id = _pipeline_version(api, submission, pipeline_id)
    print(f"pipeline: {api.url(f'pipelines/details/{pipeline_id}/version/{version_id}')}")
    experiment = run.experiment or (DEFAULT_EXPERIMENT if config.namespace else "")
    experiment_id = api.experiment_id(experiment) if experiment else ""
    arguments = dict(display_name=submission.display_name, pipeline_id=pipeline_id, version_id=version_id,
                     parameters=submission.staged_parameters(), pipeline_root=run.pipeline_root,
                     experiment_id=experiment_id, service_account=run.service_account)
    if run.schedule:
        recurring_run_id = api.create_recurring_run(cron=run.schedule, **arguments)
        print(f"recurring run ({run.schedule}): {api.url(f'recurringrun/details/{recurring_run_id}')}")
        return 0
    run_id = api.create_run(**arguments)
    print(f"run: {api.url(f'runs/details/{run_id}')}", flush=True)
    return follow(lambda: api.run_state(run_id), run, sleep=sleep) if run.wait else 0


def _pipeline_version(api: "KfpApi", submission: Submission, pipeline_id: str | None) -> tuple[str, str]:
    """The pipeline and version to run: uploaded as a new pipeline, a new version, or found already there."""
    spec = submission.spec
    description = f"kubetfx {submission.version}: {spec.description}"
    if pipeline_id is None:
        pipeline_id = api.upload_pipeline(spec.path, spec.name, description)
        print(f"uploaded new pipeline {spec.name}")
        return pipeline_id, api.latest_version(pipeline_id)
    version_id = api.find_version(pipeline_id, submission.version)
    if version_id:
        print(f"pipeline {spec.name} version {submission.version} is there already")
        return pipeline_id, version_id
    print(f"uploaded {spec.name} version {submission.version}")
    return pipeline_id, api.upload_version(spec.path, pipeline_id, submission.version, description)


class KfpApi:
    """The v2beta1 calls a submission makes, through kfp_server_api (the API client inside kfp.Client).

    kfp.Client itself is not used: its constructor probes /apis/v2beta1/healthz (retrying for 25 s
    when that fails) to guess a namespace, and reads and writes ~/.config/kfp; the namespace here is
    configuration, and the first real call checks the host.
    """

    def __init__(self, config: KfpConfig):
        import kfp_server_api

        self._config, self._server = config, kfp_server_api
        client = kfp_server_api.ApiClient(_configuration(config), cookie=config.cookie or None)
        self._pipelines = kfp_server_api.PipelineServiceApi(client)
        self._uploads = kfp_server_api.PipelineUploadServiceApi(client)
        self._experiments = kfp_server_api.ExperimentServiceApi(client)
        self._runs = kfp_server_api.RunServiceApi(client)
        self._recurring_runs = kfp_server_api.RecurringRunServiceApi(client)

    def url(self, fragment: str) -> str:
        """A page of the Kubeflow Pipelines UI."""
        return f"{(self._config.ui_host or self._config.host).rstrip('/')}/#/{fragment}"

    def find_pipeline(self, name: str) -> str | None:
        found = self._call("list pipelines", self._pipelines.pipeline_service_list_pipelines,
                           filter=_name_filter(name), namespace=self._config.namespace or None).pipelines or []
        if len(found) > 1:
            raise SubmitError(f"{len(found)} pipelines are named {name}; delete all but one")
        return found[0].pipeline_id if found else None

    def upload_pipeline(self, path: str, name: str, description: str) -> str:
        return self._call("upload the pipeline", self._uploads.upload_pipeline, path, name=name,
                          description=description, namespace=self._config.namespace or None).pipeline_id

    def latest_version(self, pipeline_id: str) -> str:
        versions = self._call("list pipeline versions", self._pipelines.pipeline_service_list_pipeline_versions,
                              pipeline_id, page_size=1, sort_by="created_at desc").pipeline_versions
        if not versions:
            raise SubmitError(f"pipeline {pipeline_id} has no version after its upload")
        return versions[0].pipeline_version_id

    def find_version(self, pipeline_id: str, name: str) -> str | None:
        versions = self._call("list pipeline versions", self._pipelines.pipeline_service_list_pipeline_versions,
                              pipeline_id, filter=_name_filter(name)).pipeline_versions or []
        return versions[0].pipeline_version_id if versions else None

    def upload_version(self, path: str, pipeline_id: str, name: str, description: str) -> str:
        return self._call("upload the pipeline version", self._uploads.upload_pipeline_version, path, name=name,
                          pipelineid=pipeline_id, description=description).pipeline_version_id

    def experiment_id(self, name: str) -> str:
        """The experiment named `name`, created when there is none."""
        namespace = self._config.namespace or None
        found = self._call("list experiments", self._experiments.experiment_service_list_experiments,
                           filter=_name_filter(name), namespace=namespace).experiments or []
        if found:
            return found[0].experiment_id
        body = self._server.V2beta1Experiment(display_name=name, namespace=namespace)
        print(f"created experiment {name}")
        return self._call("create the experiment", self._experiments.experiment_service_create_experiment,
                          body).experiment_id

    def create_run(self, **arguments) -> str:
        body = self._server.V2beta1Run(**self._run_fields(**arguments))
        return self._call("create the run", self._runs.run_service_create_run, body).run_id

    def create_recurring_run(self, cron: str, **arguments) -> str:
        trigger = self._server.V2beta1Trigger(cron_schedule=self._server.V2beta1CronSchedule(cron=cron))
        # One run at a time, and no backfill of the times missed while disabled: each run retrains on all the data.
        body = self._server.V2beta1RecurringRun(trigger=trigger, mode="ENABLE", max_concurrency="1", no_catchup=True,
                                                **self._run_fields(**arguments))
        return self._call("create the recurring run", self._recurring_runs.recurring_run_service_create_recurring_run,
                          body).recurring_run_id

    def run_state(self, run_id: str) -> str:
        return self._call("read the run", self._runs.run_service_get_run, run_id).state

    def _run_fields(self, display_name, pipeline_id, version_id, parameters, pipeline_root, experiment_id,
                    service_account) -> dict:
        reference = self._server.V2beta1PipelineVersionReference(pipeline_id=pipeline_id, pipeline_version_id=version_id)
        runtime_config = self._server.V2beta1RuntimeConfig(parameters=parameters, pipeline_root=pipeline_root or None)
        return dict(display_name=display_name, pipeline_version_reference=reference, runtime_config=runtime_config,
                    experiment_id=experiment_id or None, service_account=service_account or None)

    def _call(self, what: str, method, *args, **kwargs):
        import urllib3

        try:
            timeout = (self._config.timeout_s, self._config.timeout_s)  # connect, read
            return method(*args, _request_timeout=timeout, **kwargs)
        except self._server.ApiException as error:
            raise SubmitError(f"Kubeflow Pipelines at {self._config.host} refused to {what}: {_reason(error)}") from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise SubmitError(f"cannot reach Kubeflow Pipelines at {self._config.host} to {what}: {error}") from None


def _configuration(config: KfpConfig):
    """kfp_server_api's configuration, authenticated as kfp.Client does with a token or credentials."""
    import kfp_server_api

    configuration = kfp_server_api.Configuration(host=config.host.rstrip("/"))
    configuration.verify_ssl = config.verify_ssl
    configuration.ssl_ca_cert = config.ssl_ca_cert or None
    if config.token:
        configuration.api_key["authorization"] = config.token
        configuration.api_key_prefix["authorization"] = "Bearer"
    elif config.credentials is not None:
        configuration.api_key["authorization"] = "placeholder"  # replaced by the hook before each request
        configuration.api_key_prefix["authorization"] = "Bearer"
        configuration.refresh_api_key_hook = config.credentials.refresh_api_key_hook
    return configuration


def _name_filter(name: str) -> str:
    """A v2beta1 list filter (filter.proto as JSON) on the display name, as kfp.Client writes it."""
    return json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name", "string_value": name}]})


def _reason(error) -> str:
    try:
        message = json.loads(error.body or "{}").get("message", "")
    except (TypeError, ValueError):
        message = str(error.body or "")
    hint = " (pass --token, --cookie or --in-cluster-token; --namespace on multi-user installs)" \
        if error.status in (401, 403) else ""
    return f"HTTP {error.status} {error.reason or ''} {message}".rstrip() + hint


# Vertex AI Pipelines.

def check_vertex(run: RunConfig, config: VertexConfig) -> None:
    if not config.project or not config.region:
        raise SubmitError("Vertex AI needs a project and a region: pass --project and --region")
    if not run.pipeline_root.startswith(GCS):
        raise SubmitError(f"Vertex AI needs a gs:// pipeline root (--pipeline-root gs://bucket/path), "
                          f"not '{run.pipeline_root}'")
    for key, value in config.labels.items():
        if not _LABEL.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
            raise SubmitError(f"label {key}={value}: Vertex AI labels are lowercase letters, digits, _ and -, "
                              "at most 63 characters, keys starting with a letter")


def vertex_job(run: RunConfig, config: VertexConfig, submission: Submission):
    """The `google.cloud.aiplatform.PipelineJob` of the run, built without contacting Google Cloud."""
    from google.cloud import aiplatform

    return aiplatform.PipelineJob(
        display_name=submission.display_name, template_path=submission.spec.path, job_id=submission.job_id,
        pipeline_root=run.pipeline_root, parameter_values=submission.staged_parameters(),
        enable_caching=config.enable_caching, labels=dict(config.labels) or None,
        project=config.project, location=config.region, credentials=config.credentials)


def submit_vertex(run: RunConfig, config: VertexConfig, revision: str, now: datetime.datetime,
                  storage_client: Callable[[], object], sleep=time.sleep) -> int:
    """Starts a Vertex AI pipeline job from the (Vertex) spec, or schedules it."""
    check_vertex(run, config)
    with _google_credentials(config.project):
        return _submit_vertex(run, config, revision, now, storage_client, sleep)


@contextlib.contextmanager
def _google_credentials(project: str):
    """google-auth's own errors name neither the step nor the fix: without Application Default
    Credentials (or with expired ones) say what failed and how to log in."""
    from google.auth import exceptions

    try:
        yield
    except exceptions.DefaultCredentialsError as error:
        raise SubmitError(
            f"submitting to Vertex AI (project '{project}') needs Google Cloud credentials and none were found "
            f"({_first_line(error)}). Run `gcloud auth application-default login`, or set "
            "GOOGLE_APPLICATION_CREDENTIALS to a service account key file, then submit again") from None
    except exceptions.RefreshError as error:
        raise SubmitError(
            f"the Google Cloud credentials found could not be refreshed for project '{project}' "
            f"({_first_line(error)}): they may have expired. Run `gcloud auth application-default login` again, "
            "or check the key file GOOGLE_APPLICATION_CREDENTIALS names") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


def _submit_vertex(run: RunConfig, config: VertexConfig, revision: str, now: datetime.datetime,
                   storage_client: Callable[[], object], sleep) -> int:
    submission = prepare(run, revision, now, VERTEX_CRON_FIELDS)
    if submission.uploads:
        upload_files(submission.uploads, storage_client())
    job = vertex_job(run, config, submission)
    if run.schedule:
        schedule = job.create_schedule(cron=run.schedule, display_name=submission.display_name,
                                       service_account=run.service_account or None)
        print(f"schedule ({run.schedule}): {schedule.resource_name}")
        print(f"schedules: {VERTEX_CONSOLE}/pipelines/schedules?project={config.project}")
        return 0
    job.submit(service_account=run.service_account or None, experiment=run.experiment or None)
    print(f"run: {VERTEX_CONSOLE}/locations/{config.region}/pipelines/runs/{submission.job_id}?project={config.project}",
          flush=True)
    return follow(lambda: job.state.name.removeprefix("PIPELINE_STATE_"), run, sleep=sleep) if run.wait else 0
