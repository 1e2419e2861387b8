"""`orchestrator worker` refuses bad arguments with one clear line and exit status 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["worker"], "name at least one MODULE[:FUNCTION], or --system"),
        (["worker", "no_such_module_xyz"], "cannot import 'no_such_module_xyz'"),
        (["worker", "json"], "module 'json' has no @worker_task function"),
        (["worker", "json:dumps"], "json:dumps is not decorated with @worker_task"),
        (["worker", "orchestrator.demo.workers:nope"], "has no attribute 'nope'"),
    ],
)
def test_startup_error_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_broken_user_module_is_reported_not_raised(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "broken_workers_mod.py").write_text("raise RuntimeError('bad config')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(app, ["worker", "broken_workers_mod"])
    assert result.exit_code == 2
    assert "RuntimeError: bad config" in result.stderr
