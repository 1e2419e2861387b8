"""Given/when/then: Conductor's task domain rule (orchestrator.flow.domains)."""

from __future__ import annotations

import pytest

from orchestrator.flow.domains import (
    SYSTEM_TASK_TYPES,
    domain_spec_for,
    parse_domains,
    resolve_domain,
    route_domain,
)


class Polls:
    """Who polled: a fake of the presence view, recording what it was asked."""

    def __init__(self, *live: tuple[str, str | None]) -> None:
        self.live = set(live)
        self.asked: list[tuple[str, str | None]] = []

    def active(self, task_type: str, domain: str | None) -> bool:
        self.asked.append((task_type, domain))
        return (task_type, domain) in self.live


def test_first_listed_domain_with_a_poller_wins() -> None:
    polls = Polls(("t", "green"), ("t", "blue"))
    assert resolve_domain("blue,green,NO_DOMAIN", "t", polls.active) == "blue"


def test_an_inactive_domain_is_skipped_for_the_next_active_one() -> None:
    polls = Polls(("t", "green"))
    assert resolve_domain("blue,green,NO_DOMAIN", "t", polls.active) == "green"


def test_stops_asking_after_the_first_active_domain() -> None:
    polls = Polls(("t", "blue"))
    resolve_domain("blue,green", "t", polls.active)
    assert polls.asked == [("t", "blue")]


def test_no_active_domain_and_no_domain_last_goes_to_the_default_queue() -> None:
    assert resolve_domain("blue,green,NO_DOMAIN", "t", Polls().active) is None


def test_no_active_domain_goes_to_the_last_domain_even_without_a_poller() -> None:
    # Conductor: the task waits in the last listed domain (its testInactiveDomains).
    assert resolve_domain("blue,green", "t", Polls().active) == "green"


def test_a_single_domain_is_used_whether_or_not_anyone_polls_it() -> None:
    assert resolve_domain("blue", "t", Polls().active) == "blue"
    assert resolve_domain("blue", "t", Polls(("t", "blue")).active) == "blue"


def test_no_domain_in_the_middle_has_no_effect() -> None:
    assert resolve_domain("blue,NO_DOMAIN,green", "t", Polls().active) == "green"
    assert resolve_domain("NO_DOMAIN,green", "t", Polls(("t", "green")).active) == "green"


def test_no_domain_alone_is_the_default_queue() -> None:
    polls = Polls()
    assert resolve_domain("NO_DOMAIN", "t", polls.active) is None
    assert polls.asked == []  # NO_DOMAIN is never looked up as a domain


def test_no_domain_is_case_insensitive_and_entries_are_trimmed() -> None:
    polls = Polls(("t", "green"))
    assert resolve_domain(" blue , green ,no_domain", "t", polls.active) == "green"
    assert resolve_domain("blue, No_Domain ", "t", Polls().active) is None
    assert ("t", " green ") not in polls.asked


def test_activity_is_per_task_type() -> None:
    polls = Polls(("other", "blue"))
    assert resolve_domain("blue,NO_DOMAIN", "t", polls.active) is None


def test_no_spec_or_an_empty_spec_is_the_default_queue() -> None:
    polls = Polls(("t", ""))
    assert resolve_domain(None, "t", polls.active) is None
    assert resolve_domain("", "t", polls.active) is None
    assert resolve_domain("  ", "t", polls.active) is None
    assert polls.asked == []


def test_empty_entries_are_never_domains() -> None:
    assert resolve_domain("blue,,", "t", Polls(("t", "")).active) is None
    assert resolve_domain(",blue", "t", Polls().active) == "blue"


def test_parse_keeps_order_and_no_domain_entries() -> None:
    assert parse_domains(" a,b , NO_DOMAIN") == ("a", "b", "NO_DOMAIN")
    assert parse_domains(None) == ()


@pytest.mark.parametrize("task_type", sorted(SYSTEM_TASK_TYPES))
def test_system_tasks_are_never_routed_to_a_domain(task_type: str) -> None:
    polls = Polls((task_type, "blue"))
    assert route_domain("blue", task_type, polls.active) is None
    assert domain_spec_for({"*": "blue", task_type: "blue"}, task_type) is None


def test_route_domain_resolves_worker_task_types() -> None:
    assert route_domain("blue,NO_DOMAIN", "t", Polls(("t", "blue")).active) == "blue"


def test_a_task_types_own_entry_overrides_the_wildcard() -> None:
    mapping = {"*": "blue", "t": "green,NO_DOMAIN"}
    assert domain_spec_for(mapping, "t") == "green,NO_DOMAIN"
    assert domain_spec_for(mapping, "other") == "blue"


def test_a_blank_wildcard_is_ignored() -> None:
    assert domain_spec_for({"*": " "}, "t") is None
    assert domain_spec_for({}, "t") is None
    assert domain_spec_for(None, "t") is None
