"""scripts/stack.py's multi-broker layout (issue #19): ports, server.properties, the env file.
Pure: nothing is started (tests/cluster/test_cluster_faults.py starts a real cluster)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402
from stacklib import kafka  # noqa: E402
from stacklib.common import StackError, load_settings  # noqa: E402


def props(text: str) -> dict[str, str]:
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    return dict(ln.split("=", 1) for ln in lines)


def settings(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings({"ORCHESTRATOR_STACK_STATE_DIR": str(tmp_path), **env})


def test_one_broker_is_the_default_and_unchanged(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert s.brokers == 1 and s.bootstrap == "127.0.0.1:19092"
    p = props(kafka.server_properties(s))
    assert p["node.id"] == "1" and p["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert p["offsets.topic.replication.factor"] == "1" and p["min.insync.replicas"] == "1"
    assert kafka.home(s) == tmp_path / "kafka" and kafka.pid_file(s) == tmp_path / "kafka.pid"
    assert "REPLICATION" not in stack.env_text(s)


def test_three_brokers_form_one_quorum_with_replication_three(tmp_path: Path) -> None:
    s = settings(tmp_path, ORCHESTRATOR_STACK_BROKERS="3", ORCHESTRATOR_STACK_KAFKA_PORT="40000",
                 ORCHESTRATOR_STACK_CONTROLLER_PORT="40001")  # fmt: skip
    voters = "1@127.0.0.1:40001,2@127.0.0.1:40011,3@127.0.0.1:40021"
    for node, port in ((1, 40000), (2, 40010), (3, 40020)):
        p = props(kafka.server_properties(s, node))
        assert p["node.id"] == str(node) and p["controller.quorum.voters"] == voters
        assert p["listeners"] == f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}"
        assert p["log.dirs"] == str(kafka.home(s, node) / "data")
        assert p["default.replication.factor"] == "3" and p["min.insync.replicas"] == "2"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"
    assert kafka.home(s, 2) == tmp_path / "kafka-2" and kafka.log_file(s, 3).name == "kafka-3.log"
    env = stack.env_text(s)
    assert "ORCHESTRATOR_KAFKA_BOOTSTRAP=127.0.0.1:40000,127.0.0.1:40010,127.0.0.1:40020" in env
    assert "ORCHESTRATOR_REPLICATION_FACTOR=3\n" in env
    assert "ORCHESTRATOR_MIN_INSYNC_REPLICAS=2\n" in env


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"ORCHESTRATOR_STACK_BROKERS": "0"}, "ORCHESTRATOR_STACK_BROKERS"),
        ({"ORCHESTRATOR_STACK_BROKERS": "three"}, "ORCHESTRATOR_STACK_BROKERS"),
        (
            {"ORCHESTRATOR_STACK_BROKERS": "3", "ORCHESTRATOR_STACK_KAFKA_SECURITY": "sasl_ssl"},
            "plaintext",
        ),
        (
            {"ORCHESTRATOR_STACK_BROKERS": "3", "ORCHESTRATOR_STACK_KAFKA_PORT": "65530"},
            "65535",
        ),
    ],
)
def test_bad_broker_settings_are_refused_in_one_line(
    tmp_path: Path, env: dict[str, str], names: str
) -> None:
    with pytest.raises(StackError, match=names):
        settings(tmp_path, **env)
