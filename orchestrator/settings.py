"""The one settings module: every knob of every process, read from ``ORCHESTRATOR_*`` variables.

``Settings`` is a pydantic-settings model: its environment variable is ``ORCHESTRATOR_`` + the
field name in upper case (``env_prefix``), its ``description`` is the help that
``orchestrator --help``, ``orchestrator settings`` and the compose test read, its type and
constraints are the validation (orchestrator/settings_types.py). Precedence: CLI override >
environment variable > default; an empty variable (common in compose files) means the default.
Passwords and client secrets are ``SecretStr``: never printed, masked as ``***``.

Nothing is read at import time: :func:`load_settings` reads the environment when called, and the
per-process ids (PROCESSOR_ID, WORKER_ID) are derived from hostname and pid at that moment, so a
forked process that loads its own settings gets its own id.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource
from pydantic_settings import SettingsConfigDict as Config

from orchestrator.settings_types import (
    LOG_LEVELS,
    Bootstrap,
    ExistingFile,
    Folder,
    HostList,
    HttpUrl,
    InstanceId,
    KafkaMechanism,
    KafkaProtocol,
    Level,
    Names,
    Networks,
    PostgresUrl,
    Retention,
    Secret,
    SqlIdentifier,
    Text,
    TopicPrefix,
    mask_url,
    problem,
    shown,
)

ENV_PREFIX = "ORCHESTRATOR_"
SECRET_ENV_PREFIX = "ORCHESTRATOR_SECRET_"
STACK_ENV_PREFIX = "ORCHESTRATOR_STACK_"
# The repository's schemas/ folder; a container sets ORCHESTRATOR_SCHEMAS_DIR explicitly.
PROJECT_SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
_URLS_MASKED = frozenset({"database_url", "api_url", "schema_registry_url", "payload_store_url"})
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("settings_environ", default=None)

__all__ = ["LOG_LEVELS", "Settings", "SettingsError", "load_settings", "mask_url"]


class SettingsError(ValueError):
    """One or more settings are invalid; the message names each variable and its problem."""


def _process_id(role: str) -> Callable[[], str]:
    return lambda: f"{role}-{socket.gethostname()}-{os.getpid()}"


def _int(low: int, high: int | None = None) -> Any:
    return Field(ge=low) if high is None else Field(ge=low, le=high)


class Settings(BaseSettings):
    model_config = Config(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        frozen=True,
        extra="forbid",
        enable_decoding=False,  # lists are comma-separated, not JSON
        hide_input_in_errors=False,
        validate_default=False,  # the defaults are ours (api_url "" is derived below)
    )

    kafka_bootstrap: Bootstrap = Field(
        "127.0.0.1:19092", description="Kafka bootstrap servers, host:port[,host:port...]"
    )
    kafka_security_protocol: KafkaProtocol = Field(
        "PLAINTEXT",
        description="How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_ssl_ca_file: ExistingFile | None = Field(
        None,
        description="CA certificate(s), PEM, that signed the brokers' certificates "
        "(unset: the system's)",
    )
    kafka_ssl_cert_file: ExistingFile | None = Field(
        None, description="Client certificate, PEM, for mutual TLS"
    )
    kafka_ssl_key_file: ExistingFile | None = Field(
        None, description="Private key, PEM, of the client certificate"
    )
    kafka_ssl_key_password: Secret | None = Field(
        None, description="Password of the client certificate's private key"
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="Check that a broker's certificate names the host connected to"
    )
    kafka_sasl_mechanism: KafkaMechanism | None = Field(
        None, description="SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
    )
    kafka_sasl_username: Text | None = Field(None, description="SASL user (PLAIN, SCRAM)")
    kafka_sasl_password: Secret | None = Field(None, description="SASL password (PLAIN, SCRAM)")
    kafka_sasl_oauth_token_url: HttpUrl | None = Field(
        None, description="OAUTHBEARER: the OIDC token endpoint (client credentials grant)"
    )
    kafka_sasl_oauth_client_id: Text | None = Field(
        None, description="OAUTHBEARER: the OIDC client id"
    )
    kafka_sasl_oauth_client_secret: Secret | None = Field(
        None, description="OAUTHBEARER: the OIDC client secret"
    )
    kafka_sasl_oauth_scope: Text | None = Field(
        None, description="OAUTHBEARER: the scope asked for (optional)"
    )
    database_url: PostgresUrl = Field(
        "postgresql://orchestrator@127.0.0.1:55432/orchestrator",
        description="PostgreSQL URL of the read model (projector, API)",
        repr=False,
    )
    api_host: Text = Field("127.0.0.1", description="Interface the REST API binds to")
    api_port: Annotated[int, _int(1, 65535)] = Field(
        8080, description="Port the REST API listens on"
    )
    api_url: HttpUrl = Field(
        "",
        description="Base URL clients use to reach the API (default: http://API_HOST:API_PORT)",
        repr=False,
    )
    topic_prefix: TopicPrefix = Field(
        "orchestrator", description="Prefix of every topic name (<prefix>.commands, ...)"
    )
    partitions: Annotated[int, _int(1, 10000)] = Field(
        4, description="Partitions of the commands/events/task topics (fixed once created)"
    )
    replication_factor: Annotated[int, _int(1, 32)] = Field(
        1, description="Replication factor of the topics this project creates"
    )
    min_insync_replicas: Annotated[int, _int(1)] | None = Field(
        None,
        description="min.insync.replicas of the topics (default: replication factor - 1, "
        "at least 1)",
    )
    events_retention_ms: Retention = Field(
        -1, description="retention.ms of the events topic; -1 keeps the log forever"
    )
    state_dir: Folder = Field(
        Path(".stack/state"),
        description="Directory for local, disposable state (processor tables)",
    )
    schemas_dir: Folder = Field(
        PROJECT_SCHEMAS_DIR, description="Folder of the Avro schemas (.avsc) the codec loads"
    )
    log_level: Level = Field("INFO", description=f"Log level: {', '.join(LOG_LEVELS)}")
    secrets_file: Folder | None = Field(
        None,
        description="JSON file of {name: value} resolved for ${workflow.secrets.name} at hand-off",
    )
    script_timeout_ms: Annotated[int, _int(1, 600_000)] = Field(
        1000, description="Time budget of one INLINE/SWITCH javascript evaluation, ms"
    )
    script_memory_mb: Annotated[int, _int(8, 16_384)] = Field(
        64, description="Heap budget of the javascript evaluator, MiB"
    )
    http_allow_hosts: HostList = Field(
        (), description="Comma list of hosts HTTP tasks may call (empty: any host not denied)"
    )
    http_deny_hosts: HostList = Field(
        (), description="Comma list of hosts HTTP tasks may never call (wins over the allow list)"
    )
    http_allow_networks: Networks = Field(
        (),
        description="Comma list of networks (CIDR) HTTP tasks may call although they are "
        "loopback, link-local or private, e.g. 10.0.0.0/8 (default: public addresses only; SSRF)",
    )
    active_worker_last_poll_secs: Annotated[int, _int(1, 3600)] = Field(
        10,
        description="A task domain is active when a worker polled it within this many seconds "
        "(Conductor's activeWorkerLastPollTimeout)",
    )
    flow_gate_all: bool = Field(
        False,
        description="Send every task type through the task gate, so workflow priority orders all "
        "backlogs (default: only types with a rate or concurrency limit; ADR 0006)",
    )
    flow_gate_prefetch: Annotated[int, _int(0, 100_000)] = Field(
        16,
        description="Most tasks of a gated type handed to its topic and not yet started; the rest "
        "wait in the gate in priority order (0: no bound)",
    )
    finished_retention_s: Annotated[int, _int(0, 30 * 24 * 3600)] = Field(
        300,
        description="Seconds a finished execution stays in a processor's memory and state "
        "changelog; then it is archived in the state store (its operations still work). ~12 KB "
        "each in memory: at 100 workflows/s, 300 s holds ~360 MB (ADR 0008)",
    )
    max_record_bytes: Annotated[int, _int(10_000, 100 * 1024 * 1024)] = Field(
        900_000,
        description="Largest Kafka record the engine writes; keep it under the broker's "
        "message.max.bytes (1 MB by default). An outcome that would need a larger record fails "
        "its workflow with the reason; a larger state goes to the state store (ADR 0008)",
    )
    max_state_bytes: Annotated[int, _int(100_000, 1024 * 1024 * 1024)] = Field(
        16 * 1024 * 1024,
        description="Largest execution state (pickled) a processor keeps; a workflow whose state "
        "outgrows it is failed with the reason (a runaway loop must not exhaust the processor's "
        "memory)",
    )
    max_decision_events: Annotated[int, _int(100, 10_000_000)] = Field(
        20_000,
        description="Most events one command may cause in one decision; a loop of system tasks "
        "that never waits fails its workflow past it instead of holding the processor",
    )
    state_store_schema: Text = Field(
        "orchestrator_engine",
        description="Postgres schema of the processors' state store (archived and large "
        "execution states), apart from the read model's",
    )
    schema_registry_url: HttpUrl | None = Field(
        None,
        description="Confluent-API schema registry: records written in the Confluent wire format, "
        "both formats read (unset: Avro single-object encoding; docs/adr/0013)",
        repr=False,
    )
    auth: bool = Field(
        True,
        description="Authentication of the REST API and UI: on, or off for this process only "
        "(anyone who reaches the API is then an admin; logged loudly at start)",
    )
    auth_token_ttl_s: Annotated[int, _int(60, 30 * 24 * 3600)] = Field(
        3600,
        description="Lifetime of a token from POST /api/token (Conductor SDKs renew theirs "
        "every 45 min)",
    )
    auth_cache_s: Annotated[int, _int(0, 3600)] = Field(
        5,
        description="Seconds an API process trusts a verified credential before checking it "
        "again (a revoked key stops working within this time)",
    )
    auth_oidc_issuer: HttpUrl | None = Field(
        None,
        description="OIDC issuer (the JWT 'iss') whose bearer tokens the API accepts "
        "(unset: no OIDC)",
    )
    auth_oidc_audience: Text | None = Field(
        None, description="Audience ('aud') an OIDC token must carry"
    )
    auth_oidc_jwks_url: HttpUrl | None = Field(
        None, description="URL of the issuer's JWKS (its signing keys)"
    )
    auth_oidc_principal_claim: Text = Field(
        "sub", description="Claim of an OIDC token that names the principal recorded as actor"
    )
    auth_oidc_roles_claim: Text = Field(
        "roles",
        description="Claim holding the principal's roles (admin, operator, viewer, worker); a "
        "dotted path reaches nested claims (realm_access.roles)",
    )
    auth_oidc_algorithms: Names = Field(
        ("RS256", "ES256"), description="Comma list of JWT signature algorithms accepted"
    )
    serve_standby: bool = Field(
        True,
        description="`orchestrator serve` keeps a started spare of the processor, gate and "
        "projector, activated the moment the active one dies (no start-up in a restart)",
    )
    payload_store_url: PostgresUrl | None = Field(
        None,
        description="PostgreSQL URL of the external payload store, where payloads above their "
        "threshold live (default: DATABASE_URL)",
        repr=False,
    )
    payload_store_schema: SqlIdentifier = Field(
        "orchestrator_payloads",
        description="Postgres schema of the payload store's table (created if missing; not part "
        "of the read model)",
    )
    workflow_input_payload_threshold_kb: Annotated[int, _int(1)] = Field(
        64, description="Soft threshold, KiB: a larger workflow input is stored externally"
    )
    max_workflow_input_payload_kb: Annotated[int, _int(1)] = Field(
        4096, description="Hard maximum, KiB: a start with a larger workflow input gets 413"
    )
    workflow_output_payload_threshold_kb: Annotated[int, _int(1)] = Field(
        64, description="Soft threshold, KiB: a larger workflow output is stored externally"
    )
    max_workflow_output_payload_kb: Annotated[int, _int(1)] = Field(
        4096, description="Hard maximum, KiB, of a workflow output"
    )
    task_input_payload_threshold_kb: Annotated[int, _int(1)] = Field(
        64, description="Soft threshold, KiB: a larger task input is stored externally"
    )
    max_task_input_payload_kb: Annotated[int, _int(1)] = Field(
        4096, description="Hard maximum, KiB, of a task input"
    )
    task_output_payload_threshold_kb: Annotated[int, _int(1)] = Field(
        64, description="Soft threshold, KiB: a larger task output is stored externally"
    )
    max_task_output_payload_kb: Annotated[int, _int(1)] = Field(
        4096,
        description="Hard maximum, KiB: a larger task output fails its task "
        "(FAILED_WITH_TERMINAL_ERROR)",
    )
    processor_id: Text = Field(
        default_factory=_process_id("processor"),
        description="Id of this processor process (default: processor-<hostname>-<pid>)",
    )
    worker_id: Text = Field(
        default_factory=_process_id("worker"),
        description="Id of this worker process (default: worker-<hostname>-<pid>)",
    )
    instance_id: InstanceId | None = Field(
        None,
        description="Static consumer-group member id (Kafka group.instance.id) of a processor, "
        "gate or projector: its restart takes its partitions back at once, without a rebalance. "
        "Stable per slot, never shared by two live processes (`serve` sets one per component); "
        "empty: dynamic membership",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Overrides, then the environment (``load_settings(environ=...)`` or os.environ)."""
        return init_settings, _Environment(settings_cls, _ENVIRON.get())

    @model_validator(mode="after")
    def _derive_and_check(self) -> Settings:
        if not self.api_url:
            # A wildcard bind address is not something a client can connect to.
            host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
            host = f"[{host}]" if ":" in host else host
            self.__dict__["api_url"] = f"http://{host}:{self.api_port}"  # frozen: set once here
        from orchestrator.settings_checks import check

        check(self)
        return self

    @property
    def effective_min_insync_replicas(self) -> int:
        if self.min_insync_replicas is not None:
            return self.min_insync_replicas
        return max(1, self.replication_factor - 1)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    @classmethod
    def env_var_names(cls) -> tuple[str, ...]:
        return tuple(env_name(name) for name in cls.model_fields)

    @classmethod
    def help_for(cls, name: str) -> str:
        return str(cls.model_fields[name].description)

    def describe(self) -> list[tuple[str, str, str]]:
        """(variable, masked value, help) for every setting, in declaration order."""
        return [
            (
                env_name(name),
                shown(getattr(self, name), name in _URLS_MASKED),
                str(info.description),
            )
            for name, info in type(self).model_fields.items()
        ]

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (typed values), as ``dataclasses.replace`` was."""
        return self.model_copy(update=changes)


class _Environment(EnvSettingsSource):
    """The ``ORCHESTRATOR_*`` variables of ``environ`` (default: os.environ); a blank one means
    the default."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None):
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        source = os.environ if self._given is None else self._given
        return {k.lower(): v for k, v in source.items() if v is not None and v.strip()}


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Settings from ``overrides`` (field name -> raw string or value), then env, then defaults.

    Every invalid value is reported at once, each line naming its variable.
    """
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(given) - set(Settings.model_fields)
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    given = {k: v for k, v in given.items() if not (isinstance(v, str) and not v.strip())}
    with _environment(environ):
        try:
            return Settings(**given)
        except ValidationError as exc:
            raise _settings_error(exc, given) from None


@contextmanager
def _environment(environ: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def _settings_error(exc: ValidationError, overrides: Mapping[str, Any]) -> SettingsError:
    problems, whole = [], []
    for error in exc.errors():
        loc = error["loc"]
        if not loc:  # a rule across settings: its message names the variables
            whole.append(problem(dict(error), None))
            continue
        name = str(loc[0])
        info: FieldInfo | None = Settings.model_fields.get(name)
        source = "override" if name in overrides else "environment"
        problems.append(
            f"{env_name(name)}: {problem(dict(error), info)}, got {error.get('input')!r} (from {source})"
        )
    if whole and not problems:
        return SettingsError("\n".join(whole))
    return SettingsError("invalid settings:\n  " + "\n  ".join(problems + whole))


def setting_sources(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """For each variable: 'flag', 'env' or 'default' (shown by ``orchestrator settings``)."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    result = {}
    for name in Settings.model_fields:
        var = env_name(name)
        if overrides.get(name) is not None:
            result[var] = "flag"
        else:
            result[var] = "env" if var in environ else "default"
    return result


def unknown_env_vars(environ: Mapping[str, str] | None = None) -> list[str]:
    """``ORCHESTRATOR_*`` variables that are no setting: most likely typos."""
    environ = os.environ if environ is None else environ
    known = set(Settings.env_var_names())
    return sorted(
        k
        for k in environ
        if k.startswith(ENV_PREFIX)
        and k not in known
        and not k.startswith(SECRET_ENV_PREFIX)  # secrets, not settings (orchestrator.secrets)
        and not k.startswith(STACK_ENV_PREFIX)  # the local stack's own knobs (scripts/stack.py)
    )


class LazySettings:
    """Loads settings on first use (the CLI keeps one in ``ctx.obj``).

    ``orchestrator <cmd> --help`` must work even when the environment holds a bad value, so the
    CLI defers loading until a command actually needs its settings.
    """

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        on_load: Callable[[Settings], None] | None = None,
    ) -> None:
        self.overrides = dict(overrides or {})
        self.environ = environ
        self._on_load = on_load
        self._settings: Settings | None = None

    def get(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.environ, self.overrides)
            if self._on_load is not None:
                self._on_load(self._settings)
        return self._settings


def settings_of(ctx: Any) -> Settings:
    """The settings of a running ``orchestrator`` command, given its Typer/click context."""
    lazy: LazySettings | None = ctx.find_object(LazySettings)
    if lazy is None:  # a command invoked outside the main app (e.g. in a test)
        lazy = ctx.ensure_object(LazySettings)
    return lazy.get()
