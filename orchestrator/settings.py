"""The one settings module: every knob of every process, read from ``ORCHESTRATOR_*`` variables.

A setting is a field of the frozen :class:`Settings` dataclass. Its environment variable is
``ORCHESTRATOR_`` + the field name in upper case, its help text and parser live in the field's
metadata, so ``orchestrator --help``, ``orchestrator settings`` and the compose test all read
the same table. Precedence: CLI override > environment variable > default.

Nothing is read at import time: :func:`load_settings` reads the environment when called, and the
per-process ids (PROCESSOR_ID, WORKER_ID) are derived from hostname and pid at that moment, so a
forked process that loads its own settings gets its own id.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from orchestrator.kafka.security import MECHANISMS, PROTOCOLS

ENV_PREFIX = "ORCHESTRATOR_"
SECRET_ENV_PREFIX = "ORCHESTRATOR_SECRET_"
STACK_ENV_PREFIX = "ORCHESTRATOR_STACK_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The repository's schemas/ folder; a container sets ORCHESTRATOR_SCHEMAS_DIR explicitly.
PROJECT_SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"


class SettingsError(ValueError):
    """One or more settings are invalid; the message names each variable and its problem."""


# --- parsers: raw string -> value, raising ValueError("<problem>") --------------------------


def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw.strip()


def _optional_text(raw: str) -> str | None:
    return raw.strip() or None


def _integer(
    low: int | None = None, high: int | None = None, *, allow: tuple[int, ...] = ()
) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("expected an integer") from None
        if value in allow:
            return value
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"between {low} and {high}"
            extra = f" (or {', '.join(map(str, allow))})" if allow else ""
            raise ValueError(f"expected an integer {bounds}{extra}")
        return value

    return parse


def _optional_integer(low: int) -> Callable[[str], int | None]:
    def parse(raw: str) -> int | None:
        return _integer(low)(raw) if raw.strip() else None

    return parse


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _host_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


def _choice(choices: tuple[str, ...], upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def _optional_choice(choices: tuple[str, ...]) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        return _choice(choices, upper=True)(raw) if raw.strip() else None

    return parse


def _existing_file(raw: str) -> Path | None:
    if not raw.strip():
        return None
    path = Path(raw.strip()).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


def _masked(value: Any) -> str | None:
    return None if value is None else "***"


def _name_list(raw: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    if not names:
        raise ValueError("expected a comma list of names")
    return names


def _networks(raw: str) -> tuple[str, ...]:
    import ipaddress

    found = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(f"{part!r} is not a network (CIDR such as 10.0.0.0/8)") from None
    return tuple(found)


def _bootstrap(raw: str) -> str:
    servers = [s.strip() for s in raw.split(",") if s.strip()]
    if not servers:
        raise ValueError("expected host:port[,host:port...]")
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"{server!r} is not host:port")
    return ",".join(servers)


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"expected a {'/'.join(schemes)} URL with a host")
        return value

    return parse


def _optional_url(schemes: tuple[str, ...]) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        return _url(schemes)(raw) if raw.strip() else None

    return parse


def _topic_prefix(raw: str) -> str:
    value = raw.strip()
    # Kafka topic names allow [a-zA-Z0-9._-]; the prefix is joined to the rest with ".".
    if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", value) or len(value) > 100:
        raise ValueError("expected letters, digits, '_', '-' and inner '.', at most 100 chars")
    return value


def _instance_id(raw: str) -> str | None:
    value = raw.strip()
    # Kafka's rule for group.instance.id (JoinGroupRequest.validateGroupInstanceId).
    if value and (not re.fullmatch(r"[A-Za-z0-9._-]+", value) or len(value) > 249):
        raise ValueError("expected letters, digits, '.', '_' and '-', at most 249 chars")
    return value or None


def _identifier(raw: str) -> str:
    value = raw.strip()
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
        raise ValueError("expected a lower-case SQL identifier (letters, digits, '_')")
    return value


def _log_level(raw: str) -> str:
    value = raw.strip().upper()
    if value not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return value


def _path(raw: str) -> Path:
    return Path(_text(raw)).expanduser()


def _optional_path(raw: str) -> Path | None:
    return Path(raw.strip()).expanduser() if raw.strip() else None


def _process_id(role: str) -> Callable[[], str]:
    def derive() -> str:
        return f"{role}-{socket.gethostname()}-{os.getpid()}"

    return derive


def mask_url(url: str | None) -> str | None:
    """The URL with its password replaced by ``***`` (for logs and ``orchestrator settings``)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _setting(
    default: Any = MISSING,
    help: str = "",
    parse: Callable[[str], Any] = _text,
    *,
    factory: Callable[[], Any] | None = None,
    mask: Callable[[Any], Any] | None = None,
) -> Any:
    meta = {"help": help, "parse": parse, "mask": mask}
    shown = mask is None  # a secret (or a URL with a password) stays out of repr() and logs
    if factory is not None:
        return field(default_factory=factory, metadata=meta, repr=shown)
    return field(default=default, metadata=meta, repr=shown)


@dataclass(frozen=True, slots=True)
class Settings:
    kafka_bootstrap: str = _setting(
        "127.0.0.1:39092", "Kafka bootstrap servers, host:port[,host:port...]", _bootstrap
    )
    kafka_security_protocol: str = _setting(
        "PLAINTEXT",
        "How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
        _choice(PROTOCOLS, upper=True),
    )
    kafka_ssl_ca_file: Path | None = _setting(  # noqa: RUF009 (returns a dataclasses.field)
        None,
        "CA certificate(s), PEM, that signed the brokers' certificates (unset: the system's)",
        _existing_file,
    )
    kafka_ssl_cert_file: Path | None = _setting(  # noqa: RUF009 (returns a dataclasses.field)
        None, "Client certificate, PEM, for mutual TLS", _existing_file
    )
    kafka_ssl_key_file: Path | None = _setting(  # noqa: RUF009 (returns a dataclasses.field)
        None, "Private key, PEM, of the client certificate", _existing_file
    )
    kafka_ssl_key_password: str | None = _setting(
        None, "Password of the client certificate's private key", _optional_text, mask=_masked
    )
    kafka_ssl_check_hostname: bool = _setting(
        True, "Check that a broker's certificate names the host connected to", _boolean
    )
    kafka_sasl_mechanism: str | None = _setting(
        None,
        "SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
        _optional_choice(MECHANISMS),
    )
    kafka_sasl_username: str | None = _setting(None, "SASL user (PLAIN, SCRAM)", _optional_text)
    kafka_sasl_password: str | None = _setting(
        None, "SASL password (PLAIN, SCRAM)", _optional_text, mask=_masked
    )
    kafka_sasl_oauth_token_url: str | None = _setting(
        None,
        "OAUTHBEARER: the OIDC token endpoint (client credentials grant)",
        _optional_url(("http", "https")),
    )
    kafka_sasl_oauth_client_id: str | None = _setting(
        None, "OAUTHBEARER: the OIDC client id", _optional_text
    )
    kafka_sasl_oauth_client_secret: str | None = _setting(
        None, "OAUTHBEARER: the OIDC client secret", _optional_text, mask=_masked
    )
    kafka_sasl_oauth_scope: str | None = _setting(
        None, "OAUTHBEARER: the scope asked for (optional)", _optional_text
    )
    database_url: str = _setting(
        "postgresql://orchestrator@127.0.0.1:55432/orchestrator",
        "PostgreSQL URL of the read model (projector, API)",
        _url(("postgresql", "postgres")),
        mask=mask_url,
    )
    api_host: str = _setting("127.0.0.1", "Interface the REST API binds to")
    api_port: int = _setting(8080, "Port the REST API listens on", _integer(1, 65535))
    api_url: str = _setting(
        "",
        "Base URL clients use to reach the API (default: http://API_HOST:API_PORT)",
        _url(("http", "https")),
        mask=mask_url,
    )
    topic_prefix: str = _setting(
        "orchestrator", "Prefix of every topic name (<prefix>.commands, ...)", _topic_prefix
    )
    partitions: int = _setting(
        4, "Partitions of the commands/events/task topics (fixed once created)", _integer(1, 10000)
    )
    replication_factor: int = _setting(
        1, "Replication factor of the topics this project creates", _integer(1, 32)
    )
    min_insync_replicas: int | None = _setting(
        None,
        "min.insync.replicas of the topics (default: replication factor - 1, at least 1)",
        _optional_integer(1),
    )
    events_retention_ms: int = _setting(
        -1,
        "retention.ms of the events topic; -1 keeps the log forever",
        _integer(1, allow=(-1,)),
    )
    state_dir: Path = _setting(  # noqa: RUF009 (returns a dataclasses.field)
        Path(".stack/state"), "Directory for local, disposable state (processor tables)", _path
    )
    schemas_dir: Path = _setting(  # noqa: RUF009 (returns a dataclasses.field)
        PROJECT_SCHEMAS_DIR, "Folder of the Avro schemas (.avsc) the codec loads", _path
    )
    log_level: str = _setting("INFO", f"Log level: {', '.join(LOG_LEVELS)}", _log_level)
    secrets_file: Path | None = _setting(  # noqa: RUF009 (returns a dataclasses.field)
        None,
        "JSON file of {name: value} resolved for ${workflow.secrets.name} at hand-off",
        _optional_path,
    )
    script_timeout_ms: int = _setting(
        1000, "Time budget of one INLINE/SWITCH javascript evaluation, ms", _integer(1, 600_000)
    )
    script_memory_mb: int = _setting(
        64, "Heap budget of the javascript evaluator, MiB", _integer(8, 16_384)
    )
    http_allow_hosts: tuple[str, ...] = _setting(
        (), "Comma list of hosts HTTP tasks may call (empty: any host not denied)", _host_list
    )
    http_deny_hosts: tuple[str, ...] = _setting(
        (), "Comma list of hosts HTTP tasks may never call (wins over the allow list)", _host_list
    )
    http_allow_networks: tuple[str, ...] = _setting(
        (),
        "Comma list of networks (CIDR) HTTP tasks may call although they are loopback, "
        "link-local or private, e.g. 10.0.0.0/8 (default: public addresses only; SSRF)",
        _networks,
    )
    active_worker_last_poll_secs: int = _setting(
        10,
        "A task domain is active when a worker polled it within this many seconds "
        "(Conductor's activeWorkerLastPollTimeout)",
        _integer(1, 3600),
    )
    flow_gate_all: bool = _setting(
        False,
        "Send every task type through the task gate, so workflow priority orders all backlogs "
        "(default: only types with a rate or concurrency limit; ADR 0006)",
        _boolean,
    )
    flow_gate_prefetch: int = _setting(
        16,
        "Most tasks of a gated type handed to its topic and not yet started; the rest wait in "
        "the gate in priority order (0: no bound)",
        _integer(0, 100_000),
    )
    finished_retention_s: int = _setting(
        300,
        "Seconds a finished execution stays in a processor's memory and state changelog; then "
        "it is archived in the state store (its operations still work). ~12 KB each in memory: "
        "at 100 workflows/s, 300 s holds ~360 MB (ADR 0008)",
        _integer(0, 30 * 24 * 3600),
    )
    max_record_bytes: int = _setting(
        900_000,
        "Largest Kafka record the engine writes; keep it under the broker's message.max.bytes "
        "(1 MB by default). An outcome that would need a larger record fails its workflow with "
        "the reason; a larger state goes to the state store (ADR 0008)",
        _integer(10_000, 100 * 1024 * 1024),
    )
    max_state_bytes: int = _setting(
        16 * 1024 * 1024,
        "Largest execution state (pickled) a processor keeps; a workflow whose state outgrows it "
        "is failed with the reason (a runaway loop must not exhaust the processor's memory)",
        _integer(100_000, 1024 * 1024 * 1024),
    )
    max_decision_events: int = _setting(
        20_000,
        "Most events one command may cause in one decision; a loop of system tasks that never "
        "waits fails its workflow past it instead of holding the processor",
        _integer(100, 10_000_000),
    )
    state_store_schema: str = _setting(
        "orchestrator_engine",
        "Postgres schema of the processors' state store (archived and large execution states), "
        "apart from the read model's",
        _text,
    )
    schema_registry_url: str | None = _setting(
        None,
        "Confluent schema registry URL (unset: Avro single-object encoding)",
        _optional_url(("http", "https")),
        mask=mask_url,
    )
    serve_standby: bool = _setting(
        True,
        "`orchestrator serve` keeps a started spare of the processor, gate and projector, "
        "activated the moment the active one dies (no start-up in a restart)",
        _boolean,
    )
    payload_store_url: str | None = _setting(
        None,
        "PostgreSQL URL of the external payload store, where payloads above their threshold "
        "live (default: DATABASE_URL)",
        _optional_url(("postgresql", "postgres")),
        mask=mask_url,
    )
    payload_store_schema: str = _setting(
        "orchestrator_payloads",
        "Postgres schema of the payload store's table (created if missing; not part of the "
        "read model)",
        _identifier,
    )
    workflow_input_payload_threshold_kb: int = _setting(
        64, "Soft threshold, KiB: a larger workflow input is stored externally", _integer(1)
    )
    max_workflow_input_payload_kb: int = _setting(
        4096, "Hard maximum, KiB: a start with a larger workflow input gets 413", _integer(1)
    )
    workflow_output_payload_threshold_kb: int = _setting(
        64, "Soft threshold, KiB: a larger workflow output is stored externally", _integer(1)
    )
    max_workflow_output_payload_kb: int = _setting(
        4096, "Hard maximum, KiB, of a workflow output", _integer(1)
    )
    task_input_payload_threshold_kb: int = _setting(
        64, "Soft threshold, KiB: a larger task input is stored externally", _integer(1)
    )
    max_task_input_payload_kb: int = _setting(
        4096, "Hard maximum, KiB, of a task input", _integer(1)
    )
    task_output_payload_threshold_kb: int = _setting(
        64, "Soft threshold, KiB: a larger task output is stored externally", _integer(1)
    )
    max_task_output_payload_kb: int = _setting(
        4096,
        "Hard maximum, KiB: a larger task output fails its task (FAILED_WITH_TERMINAL_ERROR)",
        _integer(1),
    )
    auth: bool = _setting(
        True,
        "Authentication of the REST API and UI: on, or off for this process only (anyone who "
        "reaches the API is then an admin; logged loudly at start)",
        _boolean,
    )
    auth_token_ttl_s: int = _setting(
        3600,
        "Lifetime of a token from POST /api/token (Conductor SDKs renew theirs every 45 min)",
        _integer(60, 30 * 24 * 3600),
    )
    auth_cache_s: int = _setting(
        5,
        "Seconds an API process trusts a verified credential before checking it again (a "
        "revoked key stops working within this time)",
        _integer(0, 3600),
    )
    auth_oidc_issuer: str | None = _setting(
        None,
        "OIDC issuer (the JWT 'iss') whose bearer tokens the API accepts (unset: no OIDC)",
        _optional_url(("http", "https")),
    )
    auth_oidc_audience: str | None = _setting(
        None, "Audience ('aud') an OIDC token must carry", _optional_text
    )
    auth_oidc_jwks_url: str | None = _setting(
        None, "URL of the issuer's JWKS (its signing keys)", _optional_url(("http", "https"))
    )
    auth_oidc_principal_claim: str = _setting(
        "sub", "Claim of an OIDC token that names the principal recorded as actor"
    )
    auth_oidc_roles_claim: str = _setting(
        "roles",
        "Claim holding the principal's roles (admin, operator, viewer, worker); a dotted path "
        "reaches nested claims (realm_access.roles)",
    )
    auth_oidc_algorithms: tuple[str, ...] = _setting(
        ("RS256", "ES256"), "Comma list of JWT signature algorithms accepted", _name_list
    )
    processor_id: str = _setting(
        help="Id of this processor process (default: processor-<hostname>-<pid>)",
        factory=_process_id("processor"),
    )
    worker_id: str = _setting(
        help="Id of this worker process (default: worker-<hostname>-<pid>)",
        factory=_process_id("worker"),
    )
    instance_id: str | None = _setting(
        None,
        "Static consumer-group member id (Kafka group.instance.id) of a processor, gate or "
        "projector: its restart takes its partitions back at once, without a rebalance. Stable "
        "per slot, never shared by two live processes (`serve` sets one per component); "
        "empty: dynamic membership",
        _instance_id,
    )

    def __post_init__(self) -> None:
        if not self.api_url:
            # A wildcard bind address is not something a client can connect to.
            host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
            host = f"[{host}]" if ":" in host else host
            object.__setattr__(self, "api_url", f"http://{host}:{self.api_port}")
        for kind in ("workflow_input", "workflow_output", "task_input", "task_output"):
            soft = getattr(self, f"{kind}_payload_threshold_kb")
            hard = getattr(self, f"max_{kind}_payload_kb")
            if soft > hard:
                raise SettingsError(
                    f"{env_name(f'{kind}_payload_threshold_kb')} ({soft}) is more than "
                    f"{env_name(f'max_{kind}_payload_kb')} ({hard})"
                )
        if self.min_insync_replicas is not None and (
            self.min_insync_replicas > self.replication_factor
        ):
            raise SettingsError(
                f"{env_name('min_insync_replicas')}: {self.min_insync_replicas} is more than "
                f"{env_name('replication_factor')} ({self.replication_factor})"
            )

        self._check_kafka_security()
        oidc = {
            "auth_oidc_issuer": self.auth_oidc_issuer,
            "auth_oidc_audience": self.auth_oidc_audience,
            "auth_oidc_jwks_url": self.auth_oidc_jwks_url,
        }
        if any(oidc.values()) and not all(oidc.values()):
            missing = ", ".join(env_name(k) for k, v in oidc.items() if not v)
            raise SettingsError(f"{missing}: needed too when OIDC is configured")

    def _check_kafka_security(self) -> None:
        protocol, mechanism = self.kafka_security_protocol, self.kafka_sasl_mechanism
        sasl = protocol.startswith("SASL_")
        if sasl and mechanism is None:
            raise SettingsError(
                f"{env_name('kafka_sasl_mechanism')}: needed with {protocol} "
                f"(one of {', '.join(MECHANISMS)})"
            )
        if mechanism is not None and not sasl:
            raise SettingsError(
                f"{env_name('kafka_sasl_mechanism')} is set but "
                f"{env_name('kafka_security_protocol')} is {protocol}: use SASL_SSL"
            )
        needed = {
            "OAUTHBEARER": (
                "kafka_sasl_oauth_token_url",
                "kafka_sasl_oauth_client_id",
                "kafka_sasl_oauth_client_secret",
            ),
        }.get(mechanism or "", ("kafka_sasl_username", "kafka_sasl_password") if sasl else ())
        missing = [env_name(n) for n in needed if not getattr(self, n)]
        if missing:
            raise SettingsError(f"{', '.join(missing)}: needed with {mechanism}")
        if bool(self.kafka_ssl_cert_file) != bool(self.kafka_ssl_key_file):
            raise SettingsError(
                f"{env_name('kafka_ssl_cert_file')} and {env_name('kafka_ssl_key_file')}: "
                "set both (a client certificate and its key) or neither"
            )

    @property
    def effective_min_insync_replicas(self) -> int:
        if self.min_insync_replicas is not None:
            return self.min_insync_replicas
        return max(1, self.replication_factor - 1)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def env_var_names(cls) -> tuple[str, ...]:
        return tuple(env_name(f.name) for f in fields(cls))

    @classmethod
    def help_for(cls, name: str) -> str:
        return str(_field(name).metadata["help"])

    def describe(self) -> list[tuple[str, str, str]]:
        """(variable, masked value, help) for every setting, in declaration order."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            mask = f.metadata["mask"]
            shown = mask(value) if mask else value
            if isinstance(shown, tuple):
                shown = ",".join(shown)
            rows.append((env_name(f.name), "" if shown is None else str(shown), f.metadata["help"]))
        return rows


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def _field(name: str) -> Field[Any]:
    for f in fields(Settings):
        if f.name == name:
            return f
    raise KeyError(name)


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Settings from ``overrides`` (field name -> raw string or value), then env, then defaults.

    Every invalid value is reported at once, each line naming its variable.
    """
    environ = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(overrides) - {f.name for f in fields(Settings)}
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    problems: list[str] = []
    for f in fields(Settings):
        var = env_name(f.name)
        raw, source = (
            (overrides[f.name], "override")
            if f.name in overrides
            else (environ.get(var), "environment")
        )
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue  # an empty variable (common in compose files) means "use the default"
        if not isinstance(raw, str):
            values[f.name] = raw  # already typed (from code)
            continue
        try:
            values[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            problems.append(f"{var}: {exc}, got {raw!r} (from {source})")
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
    return Settings(**values)


def setting_sources(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """For each variable: 'flag', 'env' or 'default' (shown by ``orchestrator settings``)."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    result = {}
    for f in fields(Settings):
        var = env_name(f.name)
        if overrides.get(f.name) is not None:
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
