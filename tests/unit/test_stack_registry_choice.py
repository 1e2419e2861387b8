"""Which schema registry scripts/stack.py runs (ORCHESTRATOR_STACK_REGISTRY) and at which URL.
Pure: nothing is started (tests/integration/test_stack_registry.py starts both kinds)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from stacklib import apicurio, registry  # noqa: E402
from stacklib.common import StackError, load_settings  # noqa: E402


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("", None),
        ("0", None),
        ("off", None),
        ("1", "apicurio"),
        ("yes", "apicurio"),
        ("Apicurio", "apicurio"),
        ("standin", "standin"),
    ],
)
def test_the_registry_asked_for(value: str, kind: str | None) -> None:
    assert registry.kind({"ORCHESTRATOR_STACK_REGISTRY": value}) == kind
    assert registry.wanted({"ORCHESTRATOR_STACK_REGISTRY": value}) == (kind is not None)


def test_an_unknown_registry_is_a_clear_error() -> None:
    with pytest.raises(StackError, match=r"ORCHESTRATOR_STACK_REGISTRY='karapace': expected 1"):
        registry.kind({"ORCHESTRATOR_STACK_REGISTRY": "karapace"})


def test_apicurio_is_reached_at_its_confluent_compatible_api() -> None:
    assert registry.url_of(18081, "apicurio") == "http://127.0.0.1:18081/apis/ccompat/v7"
    assert registry.url_of(18081, "standin") == "http://127.0.0.1:18081"


def test_a_pid_file_names_its_kind_and_an_old_one_is_the_stand_in(tmp_path: Path) -> None:
    s = load_settings({"ORCHESTRATOR_STACK_STATE_DIR": str(tmp_path)})
    registry.pid_file(s).write_text("12345 18085 apicurio\n")
    assert (registry.recorded_port(s), registry.recorded_kind(s)) == (18085, "apicurio")
    registry.pid_file(s).write_text("12345 18085\n")  # written before Apicurio was an option
    assert registry.recorded_kind(s) == "standin"


def test_the_build_is_cached_per_apicurio_version(tmp_path: Path) -> None:
    s = load_settings({"ORCHESTRATOR_STACK_CACHE_DIR": str(tmp_path)})
    assert apicurio.version() == "2.4.2.Final"  # scripts/apicurio/pom.xml
    assert apicurio.runner_jar(s).parent == tmp_path / "apicurio-registry-2.4.2.Final"
