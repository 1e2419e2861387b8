"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so check their shape.

Every ORCHESTRATOR_* variable they set must be a real setting, and the services that need
Kafka or PostgreSQL must wait for them to be healthy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATOR_SERVICES = (
    "topics",
    "processor",
    "gate",
    "projector",
    "api",
    "system-worker",
    "sample-worker",
)
NEEDS_POSTGRES = ("projector", "api")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def environment(service: dict[str, Any], variables: dict[str, str] | None = None) -> dict[str, str]:
    """The service's environment as Compose interpolates it: ${VAR:-default} takes VAR from
    `variables` (an --env-file), else the default."""
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=VALUE" list form
        env = dict(item.split("=", 1) for item in env)
    found = variables or {}
    return {
        k: re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: found.get(m[1], m[2]), str(v))
        for k, v in env.items()
    }


CLUSTER_ENV = ROOT / "docker-compose.cluster.env"


def cluster_variables() -> dict[str, str]:
    lines = CLUSTER_ENV.read_text().splitlines()
    return dict(ln.split("=", 1) for ln in lines if ln.strip() and not ln.startswith("#"))


def test_all_services_exist(compose: dict[str, Any]) -> None:
    assert set(services(compose)) >= {"kafka", "postgres", *ORCHESTRATOR_SERVICES}


def test_kafka_runs_kraft_from_the_official_image_with_a_healthcheck(compose) -> None:
    kafka = services(compose)["kafka"]
    assert re.fullmatch(r"apache/kafka:3\.9\.\d+", kafka["image"])
    env = environment(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert "test" in kafka["healthcheck"]


def test_postgres_15_has_a_volume_and_a_healthcheck(compose) -> None:
    postgres = services(compose)["postgres"]
    assert postgres["image"].startswith("postgres:15")
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])
    assert "pg_isready" in str(postgres["healthcheck"]["test"])


def test_orchestrator_services_run_the_matching_command(compose) -> None:
    for name in ("processor", "gate", "projector", "api"):
        assert services(compose)[name]["command"][0] == name
    assert services(compose)["topics"]["command"] == ["topics"]
    assert services(compose)["system-worker"]["command"] == ["worker", "--system"]
    assert services(compose)["sample-worker"]["command"][0] == "worker"
    for name in ORCHESTRATOR_SERVICES:
        assert services(compose)[name]["build"] == "."


def test_every_orchestrator_variable_is_a_real_setting(compose) -> None:
    known = set(Settings.env_var_names())
    for name, service in services(compose).items():
        unknown = {k for k in environment(service) if k.startswith("ORCHESTRATOR_")} - known
        assert not unknown, f"service {name} sets unknown settings {sorted(unknown)}"


def test_orchestrator_services_are_configured_only_by_orchestrator_variables(compose) -> None:
    for name in ORCHESTRATOR_SERVICES:
        env = environment(services(compose)[name])
        assert env, f"{name} has no environment"
        assert all(k.startswith("ORCHESTRATOR_") for k in env), name
        load_settings(env)  # and every value is valid


def test_services_wait_for_healthy_dependencies(compose) -> None:
    for name in ORCHESTRATOR_SERVICES:
        depends = services(compose)[name]["depends_on"]
        assert depends["kafka"]["condition"] == "service_healthy", name
        if name != "topics":
            assert depends["topics"]["condition"] == "service_completed_successfully", name
    for name in NEEDS_POSTGRES:
        assert services(compose)[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_used_volumes_are_declared(compose) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert {"kafka-data", "postgres-data"} <= declared


def test_dockerfile_installs_the_project_on_python_311_slim() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert re.search(r"pip install .*/app", text)
    assert 'ENTRYPOINT ["orchestrator"]' in text
    variables = set(re.findall(r"\b(ORCHESTRATOR_[A-Z_]+)=", text))
    assert variables <= set(Settings.env_var_names()), variables


def test_the_cluster_profile_runs_three_brokers_in_one_quorum(compose) -> None:
    variables = cluster_variables()
    nodes = {name: services(compose)[name] for name in ("kafka", "kafka-2", "kafka-3")}
    assert [nodes[n].get("profiles") for n in nodes] == [None, ["cluster"], ["cluster"]]
    envs = {name: environment(node, variables) for name, node in nodes.items()}
    ids = {name: env["KAFKA_NODE_ID"] for name, env in envs.items()}
    assert sorted(ids.values()) == ["1", "2", "3"]
    voters = {f"{ids[name]}@{name}:9093" for name in nodes}
    for name, env in envs.items():
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters, name
        assert env["CLUSTER_ID"] == envs["kafka"]["CLUSTER_ID"], name
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3", name
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2", name
        assert f"INTERNAL://{name}:9092" in env["KAFKA_ADVERTISED_LISTENERS"], name
        assert any(v.endswith(":/var/lib/kafka/data") for v in nodes[name]["volumes"]), name
        assert "test" in nodes[name]["healthcheck"], name
    host_ports = [nodes[n]["ports"][0].rsplit(":", 1)[1] for n in nodes]
    assert host_ports == ["19092", "19102", "19112"]  # as ORCHESTRATOR_STACK_BROKERS=3 uses


def test_with_the_cluster_env_every_process_uses_the_three_brokers(compose) -> None:
    variables = cluster_variables()
    for name in ORCHESTRATOR_SERVICES:
        env = environment(services(compose)[name], variables)
        settings = load_settings(env)
        assert settings.kafka_bootstrap == "kafka:9092,kafka-2:9092,kafka-3:9092", name
        assert settings.replication_factor == 3, name
        assert settings.effective_min_insync_replicas == 2, name
    default = load_settings(environment(services(compose)["processor"]))
    assert (default.kafka_bootstrap, default.replication_factor) == ("kafka:9092", 1)
