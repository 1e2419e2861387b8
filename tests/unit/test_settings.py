"""Settings: environment parsing, validation messages, derived values and CLI overrides."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.settings import (
    Settings,
    SettingsError,
    load_settings,
    mask_url,
    setting_sources,
    unknown_env_vars,
)


def test_defaults_match_the_documented_local_stack() -> None:
    s = load_settings({})
    assert s.kafka_bootstrap == "127.0.0.1:19092"
    assert s.database_url == "postgresql://orchestrator@127.0.0.1:55432/orchestrator"
    assert (s.api_host, s.api_port, s.api_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert (s.topic_prefix, s.partitions, s.replication_factor) == ("orchestrator", 4, 1)
    assert s.events_retention_ms == -1
    assert s.state_dir == Path(".stack/state")
    assert s.log_level == "INFO"
    assert s.secrets_file is None
    assert (s.script_timeout_ms, s.script_memory_mb) == (1000, 64)
    assert s.http_allow_hosts == s.http_deny_hosts == ()
    assert s.schema_registry_url is None


def test_reads_and_converts_environment_variables() -> None:
    s = load_settings(
        {
            "ORCHESTRATOR_KAFKA_BOOTSTRAP": "k1:9092, k2:9092",
            "ORCHESTRATOR_PARTITIONS": "12",
            "ORCHESTRATOR_EVENTS_RETENTION_MS": "86400000",
            "ORCHESTRATOR_HTTP_DENY_HOSTS": "169.254.169.254, Metadata.Internal",
            "ORCHESTRATOR_LOG_LEVEL": "debug",
            "ORCHESTRATOR_SECRETS_FILE": "/run/secrets/orchestrator.json",
        }
    )
    assert s.kafka_bootstrap == "k1:9092,k2:9092"
    assert s.partitions == 12
    assert s.events_retention_ms == 86_400_000
    assert s.http_deny_hosts == ("169.254.169.254", "metadata.internal")
    assert s.log_level == "DEBUG"
    assert s.secrets_file == Path("/run/secrets/orchestrator.json")


def test_empty_variable_means_default() -> None:
    assert load_settings({"ORCHESTRATOR_API_PORT": "  "}).api_port == 8080


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("ORCHESTRATOR_PARTITIONS", "four", "expected an integer"),
        ("ORCHESTRATOR_PARTITIONS", "0", "expected an integer between 1 and 10000"),
        ("ORCHESTRATOR_API_PORT", "70000", "between 1 and 65535"),
        ("ORCHESTRATOR_EVENTS_RETENTION_MS", "0", "(or -1)"),
        ("ORCHESTRATOR_KAFKA_BOOTSTRAP", "localhost", "'localhost' is not host:port"),
        ("ORCHESTRATOR_DATABASE_URL", "mysql://x/y", "postgresql/postgres URL"),
        ("ORCHESTRATOR_LOG_LEVEL", "LOUD", "expected one of DEBUG"),
        ("ORCHESTRATOR_TOPIC_PREFIX", "my topics", "expected letters"),
        ("ORCHESTRATOR_SCHEMA_REGISTRY_URL", "registry:8081", "http/https URL"),
    ],
)
def test_bad_value_error_names_the_variable_and_the_problem(
    variable: str, value: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({variable: value})
    message = str(caught.value)
    assert f"{variable}: " in message
    assert problem in message
    assert repr(value) in message


def test_reports_every_bad_variable_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ORCHESTRATOR_PARTITIONS": "x", "ORCHESTRATOR_API_PORT": "y"})
    assert "ORCHESTRATOR_PARTITIONS" in str(caught.value)
    assert "ORCHESTRATOR_API_PORT" in str(caught.value)


def test_min_insync_replicas_above_replication_factor_is_refused() -> None:
    with pytest.raises(SettingsError, match="ORCHESTRATOR_MIN_INSYNC_REPLICAS"):
        load_settings({"ORCHESTRATOR_MIN_INSYNC_REPLICAS": "2"})


@pytest.mark.parametrize(("rf", "expected"), [(1, 1), (2, 1), (3, 2), (5, 4)])
def test_min_insync_replicas_defaults_to_one_less_than_replication(rf: int, expected: int) -> None:
    assert Settings(replication_factor=rf).effective_min_insync_replicas == expected


def test_overrides_win_over_environment() -> None:
    s = load_settings({"ORCHESTRATOR_PARTITIONS": "3"}, {"partitions": "9"})
    assert s.partitions == 9


def test_unknown_override_is_refused() -> None:
    with pytest.raises(SettingsError, match="unknown setting"):
        load_settings({}, {"partitons": "9"})


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:9000"),
        ("api.local", "http://api.local:9000"),
        ("::1", "http://[::1]:9000"),
    ],
)
def test_api_url_is_derived_from_host_and_port(host: str, url: str) -> None:
    s = load_settings({"ORCHESTRATOR_API_HOST": host, "ORCHESTRATOR_API_PORT": "9000"})
    assert s.api_url == url


def test_explicit_api_url_is_kept() -> None:
    s = load_settings({"ORCHESTRATOR_API_URL": "https://orchestrator.example/api"})
    assert s.api_url == "https://orchestrator.example/api"


def test_process_ids_are_derived_when_loaded_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "getpid", lambda: 424242)
    s = load_settings({})
    assert s.processor_id.startswith("processor-") and s.processor_id.endswith("-424242")
    assert s.worker_id.endswith("-424242")
    assert load_settings({"ORCHESTRATOR_WORKER_ID": "w-7"}).worker_id == "w-7"


def test_instance_id_is_optional_and_must_be_a_legal_group_instance_id() -> None:
    assert load_settings({}).instance_id is None  # dynamic membership
    assert load_settings({"ORCHESTRATOR_INSTANCE_ID": "host-1.processor_0"}).instance_id == (
        "host-1.processor_0"
    )
    with pytest.raises(SettingsError, match="ORCHESTRATOR_INSTANCE_ID: expected letters"):
        load_settings({"ORCHESTRATOR_INSTANCE_ID": "has space"})


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        load_settings({}).partitions = 8  # type: ignore[misc]


def test_passwords_are_masked_in_the_description() -> None:
    s = load_settings({"ORCHESTRATOR_DATABASE_URL": "postgresql://app:s3cret@db:5432/orch"})
    shown = dict((name, value) for name, value, _ in s.describe())
    assert shown["ORCHESTRATOR_DATABASE_URL"] == "postgresql://app:***@db:5432/orch"
    assert "s3cret" not in repr(s.describe())
    assert mask_url("http://reg:8081") == "http://reg:8081"


def test_every_setting_has_a_help_text_and_an_orchestrator_variable() -> None:
    names = Settings.env_var_names()
    assert len(names) == len(set(names)) >= 20
    assert all(n.startswith("ORCHESTRATOR_") for n in names)
    assert all(help_text for _, _, help_text in load_settings({}).describe())


def test_sources_and_unknown_variables_are_reported() -> None:
    env = {"ORCHESTRATOR_PARTITIONS": "2", "ORCHESTRATOR_PARTITONS": "3"}
    sources = setting_sources(env, {"log_level": "DEBUG"})
    assert sources["ORCHESTRATOR_PARTITIONS"] == "env"
    assert sources["ORCHESTRATOR_LOG_LEVEL"] == "flag"
    assert sources["ORCHESTRATOR_API_PORT"] == "default"
    assert unknown_env_vars(env) == ["ORCHESTRATOR_PARTITONS"]


# --- the CLI honours the same settings --------------------------------------------------------


def test_settings_command_applies_global_flags_and_masks_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORCHESTRATOR_PARTITIONS", "6")
    result = CliRunner().invoke(
        app,
        [
            "--kafka-bootstrap", "broker:29092",
            "--database-url", "postgresql://u:hunter2@db/orch",
            "--set", "ORCHESTRATOR_API_PORT=9999",
            "settings", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["ORCHESTRATOR_KAFKA_BOOTSTRAP"] == "broker:29092"
    assert shown["ORCHESTRATOR_PARTITIONS"] == "6"
    assert shown["ORCHESTRATOR_API_PORT"] == "9999"
    assert "hunter2" not in result.output


def test_cli_exits_2_naming_the_variable_on_a_bad_value() -> None:
    env = {**os.environ, "ORCHESTRATOR_PARTITIONS": "many"}
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "settings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "ORCHESTRATOR_PARTITIONS: expected an integer" in done.stderr


def test_help_works_with_a_bad_environment_and_stays_light() -> None:
    env = {**os.environ, "ORCHESTRATOR_PARTITIONS": "many"}
    probe = (
        "import sys; sys.argv = ['orchestrator', 'topics', '--help']\n"
        "from orchestrator.cli import app\n"
        "try:\n    app()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('confluent_kafka', 'fastavro', 'faust', 'psycopg') if m in sys.modules]\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert "HEAVY [] CODE 0" in done.stdout, done.stdout + done.stderr
    assert "--describe-only" in done.stdout
