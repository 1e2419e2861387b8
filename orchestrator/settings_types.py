"""The value types of the settings (orchestrator/settings.py) and the wording of their errors.

Numbers, booleans, paths and choices are pydantic's own types and constraints; what pydantic
cannot say by itself (a Kafka bootstrap list, a URL of given schemes, a topic prefix, comma
lists) is a small validator here. ``problem`` words every error the way the settings always
have ("expected an integer between 1 and 65535"), so that a message names the variable and
says what to change.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit, urlunsplit

from annotated_types import Ge, Le
from pydantic import AfterValidator, BeforeValidator, SecretStr
from pydantic.fields import FieldInfo

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _comma_list(lower: bool = False) -> Callable[[Any], Any]:
    def split(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parts = (p.strip() for p in value.split(","))
        return tuple(p.lower() if lower else p for p in parts if p)

    return split


def _text(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def _bootstrap(value: str) -> str:
    servers = [s.strip() for s in value.split(",") if s.strip()]
    if not servers:
        raise ValueError("expected host:port[,host:port...]")
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"{server!r} is not host:port")
    return ",".join(servers)


def _url(*schemes: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ValueError(f"expected a {'/'.join(schemes)} URL with a host")
        return value

    return check


def _topic_prefix(value: str) -> str:
    # Kafka topic names allow [a-zA-Z0-9._-]; the prefix is joined to the rest with ".".
    if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", value) or len(value) > 100:
        raise ValueError("expected letters, digits, '_', '-' and inner '.', at most 100 chars")
    return value


def _instance_id(value: str) -> str:
    # Kafka's rule for group.instance.id (JoinGroupRequest.validateGroupInstanceId).
    if not re.fullmatch(r"[A-Za-z0-9._-]+", value) or len(value) > 249:
        raise ValueError("expected letters, digits, '.', '_' and '-', at most 249 chars")
    return value


def _identifier(value: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
        raise ValueError("expected a lower-case SQL identifier (letters, digits, '_')")
    return value


def _retention(value: int) -> int:
    if value != -1 and value < 1:
        raise ValueError("expected an integer >= 1 (or -1)")
    return value


def _networks(value: tuple[str, ...]) -> tuple[str, ...]:
    found = []
    for part in value:
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(f"{part!r} is not a network (CIDR such as 10.0.0.0/8)") from None
    return tuple(found)


def _names(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("expected a comma list of names")
    return value


def _existing_file(value: Path) -> Path:
    path = value.expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


Text = Annotated[str, BeforeValidator(_stripped), AfterValidator(_text)]
Bootstrap = Annotated[str, AfterValidator(_bootstrap)]
PostgresUrl = Annotated[
    str, BeforeValidator(_stripped), AfterValidator(_url("postgresql", "postgres"))
]
HttpUrl = Annotated[str, BeforeValidator(_stripped), AfterValidator(_url("http", "https"))]
TopicPrefix = Annotated[str, BeforeValidator(_stripped), AfterValidator(_topic_prefix)]
Retention = Annotated[int, AfterValidator(_retention)]
SqlIdentifier = Annotated[str, BeforeValidator(_stripped), AfterValidator(_identifier)]
InstanceId = Annotated[str, BeforeValidator(_stripped), AfterValidator(_instance_id)]
HostList = Annotated[tuple[str, ...], BeforeValidator(_comma_list(lower=True))]
Networks = Annotated[tuple[str, ...], BeforeValidator(_comma_list()), AfterValidator(_networks)]
Names = Annotated[tuple[str, ...], BeforeValidator(_comma_list()), AfterValidator(_names)]
Folder = Annotated[Path, BeforeValidator(_stripped), AfterValidator(Path.expanduser)]
ExistingFile = Annotated[Path, BeforeValidator(_stripped), AfterValidator(_existing_file)]
Level = Annotated[LogLevel, BeforeValidator(_upper)]
KafkaProtocol = Annotated[Protocol, BeforeValidator(_upper)]
KafkaMechanism = Annotated[Mechanism, BeforeValidator(_upper)]
Secret = Annotated[SecretStr, BeforeValidator(_stripped)]


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


def shown(value: Any, masked_url: bool) -> str:
    """How ``orchestrator settings`` prints a value: secrets as ``***``, lists comma-joined."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return "***"
    if masked_url:
        return str(mask_url(value))
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def raw(value: Any) -> str:
    """A value as an ``ORCHESTRATOR_*`` variable holds it (for child processes)."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def problem(error: dict[str, Any], field: FieldInfo | None) -> str:
    """One pydantic error in the settings' own words."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected an integer"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _bounds(field)
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false"
    if kind == "literal_error" and field is not None:
        return "expected one of " + ", ".join(_choices(field.annotation))
    return str(error["msg"])


def _bounds(field: FieldInfo | None) -> str:
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None) if field else None
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None) if field else None
    if high is None:
        return f"expected an integer >= {low}"
    return f"expected an integer between {low} and {high}"


def _choices(annotation: Any) -> list[str]:
    found: list[str] = []
    for arg in get_args(annotation):
        if isinstance(arg, str):
            found.append(arg)
        else:
            found += _choices(arg)
    return found
