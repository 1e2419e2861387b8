"""Secrets: resolved only at hand-off, a missing one fails the task, values never reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.domain.statuses import TaskStatus
from orchestrator.secrets import (
    MissingSecrets,
    SecretProvider,
    SecretsFileError,
    redact,
    resolve_task_secrets,
)
from orchestrator.worker import TaskContext, worker_task
from orchestrator.worker.testing import run_local

TOKEN = "s3cr3t-t0ken-value"


def test_env_variable_provides_a_secret() -> None:
    provider = SecretProvider(environ={"ORCHESTRATOR_SECRET_API_TOKEN": TOKEN})
    assert provider.get("API_TOKEN") == TOKEN
    assert provider.get("other") is None


def test_env_name_is_normalised_for_names_with_dashes_and_lower_case() -> None:
    provider = SecretProvider(environ={"ORCHESTRATOR_SECRET_DB_PASSWORD": "pw-1234"})
    assert provider.get("db-password") == "pw-1234"


def test_json_file_provides_secrets_and_env_wins(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"a": "from-file", "b": "file-b", "db": {"host": "h1"}}))
    provider = SecretProvider(path, environ={"ORCHESTRATOR_SECRET_a": "from-env"})
    assert provider.get("a") == "from-env"
    assert provider.get("b") == "file-b"
    assert json.loads(provider.get("db") or "") == {"host": "h1"}


def test_dotenv_file_is_parsed_with_quotes_comments_and_export(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("# comment\nexport A=\"quoted value\"\nB=plain\n\nC='single'\n")
    provider = SecretProvider(path, environ={})
    assert (provider.get("A"), provider.get("B"), provider.get("C")) == (
        "quoted value",
        "plain",
        "single",
    )


def test_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    import os

    path = tmp_path / "s.json"
    path.write_text('{"k": "old-value"}')
    provider = SecretProvider(path, environ={})
    assert provider.get("k") == "old-value"
    path.write_text('{"k": "new-value"}')
    os.utime(path, (1, 1))  # a different mtime, whatever the file system's resolution
    assert provider.get("k") == "new-value"


def test_bad_file_fails_at_start_without_quoting_its_content(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"k": "hunter2-value", ')
    with pytest.raises(SecretsFileError) as info:
        SecretProvider(path, environ={})
    assert "hunter2" not in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SecretsFileError, match="cannot read secrets file"):
        SecretProvider(tmp_path / "absent.json", environ={})


def test_placeholders_are_resolved_whole_and_inside_text() -> None:
    lookup = {"TOKEN": TOKEN}.get
    resolved = resolve_task_secrets(
        {"auth": "Bearer ${workflow.secrets.TOKEN}", "raw": "${workflow.secrets.TOKEN}"}, lookup
    )
    assert resolved.value == {"auth": f"Bearer {TOKEN}", "raw": TOKEN}
    assert resolved.secrets == (TOKEN, TOKEN)


def test_missing_secret_names_it_and_how_to_set_it() -> None:
    with pytest.raises(MissingSecrets) as info:
        resolve_task_secrets({"a": "${workflow.secrets.nope}"}, {}.get)
    assert info.value.names == ("nope",)
    assert "ORCHESTRATOR_SECRET_NOPE" in str(info.value)


def test_redact_replaces_secret_values_everywhere() -> None:
    value = {"k": f"x{TOKEN}y", "list": [TOKEN], TOKEN: 1, "n": 5}
    assert redact(value, [TOKEN]) == {"k": "x***y", "list": ["***"], "***": 1, "n": 5}


def test_redact_leaves_very_short_secrets_alone() -> None:
    assert redact("on and on", ["on"]) == "on and on"


def test_redact_covers_the_fields_of_a_json_secret() -> None:
    secret = json.dumps({"user": "admin-user", "password": "pa55word!"})
    assert redact("login pa55word! ok", [secret]) == "login *** ok"


def test_worker_sees_the_resolved_secret() -> None:
    @worker_task("uses_secret")
    def fn(data: dict[str, Any]) -> dict[str, Any]:
        return {"length": len(data["token"])}

    outcome = run_local(fn, {"token": "${workflow.secrets.TOKEN}"}, secrets={"TOKEN": TOKEN})
    assert outcome.status is TaskStatus.COMPLETED
    assert outcome.output == {"length": len(TOKEN)}


def test_missing_secret_fails_the_task_naming_the_secret() -> None:
    called = []

    @worker_task("needs_secret")
    def fn(data: dict[str, Any]) -> None:
        called.append(data)

    outcome = run_local(fn, {"token": "${workflow.secrets.API_KEY}"}, secrets={})
    assert outcome.status is TaskStatus.FAILED
    assert "'API_KEY'" in (outcome.reason or "")
    assert called == []  # the function never runs with a hole in its input


def test_secret_echoed_in_output_reason_and_logs_is_redacted() -> None:
    @worker_task("leaky")
    def fn(task: TaskContext) -> None:
        task.log(f"using {task.input['token']}")
        task.heartbeat(output={"echo": task.input["token"]})
        raise RuntimeError(f"server refused token {task.input['token']}")

    from orchestrator.worker.testing import Heartbeats

    beats = Heartbeats([])
    outcome = run_local(
        fn, {"token": "${workflow.secrets.TOKEN}"}, secrets={"TOKEN": TOKEN}, heartbeats=beats
    )
    assert outcome.status is TaskStatus.FAILED
    assert TOKEN not in repr(outcome)
    assert TOKEN not in repr(beats.calls)
    assert "***" in (outcome.reason or "")


def test_input_without_placeholders_needs_no_secret_lookup() -> None:
    def lookup(name: str) -> str | None:
        raise AssertionError("must not be called")

    assert resolve_task_secrets({"a": "${workflow.input.x}"}, lookup).value == {
        "a": "${workflow.input.x}"
    }
