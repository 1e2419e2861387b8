"""Conductor's task domains: which queue (domain) a task goes to, given its taskToDomain value.

A workflow started with ``taskToDomain: {"resize": "blue,green,NO_DOMAIN"}`` asks for each
``resize`` task to go to the first of those domains that has a live worker. This module is the
rule alone (pure: who is live is asked through ``active``); ``orchestrator.flow.presence``
knows who polled when, and the processor's dispatch routing puts the two together.

The rule, as conductor-oss implements it (``WorkflowExecutorOps.setTaskDomains`` and
``getActiveDomain``, checked in its sources and its ``TestWorkflowExecutor`` cases):

1. The domain list of a task: ``taskToDomain["*"]`` (when not blank) applies to every task, and
   ``taskToDomain[<task type>]`` (when present) overrides it. System tasks (HTTP, EVENT,
   KAFKA_PUBLISH here: those run by the server, not by user workers) never get a domain.
2. The list is split on ",", each entry trimmed. In list order, skipping ``NO_DOMAIN``
   (case-insensitive), the first domain where a worker of that task type polled within
   ``activeWorkerLastPollTimeout`` (10 s by default) is the task's domain.
3. When none of them is active, the task goes to the LAST entry of the list: the default queue
   (no domain) when that entry is ``NO_DOMAIN``, otherwise that last domain, even though nobody
   polls it: the task waits there for a worker of that domain. A ``NO_DOMAIN`` that is not
   last has no effect at all.
4. An empty list (no ``taskToDomain`` entry for the task) means no domain: the default queue.

Two corners where we deliberately differ (both unreachable with sensible input):

- An empty entry (``"a,,b"``, or a blank value) means "no domain" here. Conductor would queue
  the task on a domain literally named "" (a queue ``:type`` that no worker can poll).
- Conductor compares an entry with ``NO_DOMAIN`` before trimming it, so ``"a, NO_DOMAIN"``
  looks up polls of a domain named "NO_DOMAIN" there (nobody polls it: same outcome) and only
  the fallback trims. Here every entry is trimmed first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from orchestrator.domain.definitions import TaskType

NO_DOMAIN = "NO_DOMAIN"
WILDCARD = "*"

# Task types the server's own executors run (dispatched like SIMPLE tasks, but system tasks for
# Conductor, which never puts them in a domain: the executors poll the default queue).
SYSTEM_TASK_TYPES: frozenset[str] = frozenset(
    {TaskType.HTTP.value, TaskType.EVENT.value, TaskType.KAFKA_PUBLISH.value}
)

# (task type, domain) -> has a worker of that type polled that domain recently?
ActiveFn = Callable[[str, str | None], bool]


def is_no_domain(entry: str) -> bool:
    return entry.strip().upper() == NO_DOMAIN


def parse_domains(spec: str | None) -> tuple[str, ...]:
    """The entries of a taskToDomain value, in order, trimmed (``NO_DOMAIN`` kept as is)."""
    if spec is None:
        return ()
    return tuple(entry.strip() for entry in spec.split(","))


def domain_spec_for(task_to_domain: Mapping[str, str] | None, task_type: str) -> str | None:
    """The taskToDomain value that applies to a task type: its own entry, else a non-blank "*"."""
    if not task_to_domain or task_type in SYSTEM_TASK_TYPES:
        return None
    own = task_to_domain.get(task_type)
    if own is not None:
        return own
    wildcard = task_to_domain.get(WILDCARD)
    return wildcard if wildcard and wildcard.strip() else None


def resolve_domain(domain_spec: str | None, task_type: str, active: ActiveFn) -> str | None:
    """The domain a task of ``task_type`` goes to (None: the default queue); rule in the module
    docstring. ``active`` is asked about the listed domains in order, and no further than the
    first active one."""
    entries = parse_domains(domain_spec)
    if not entries:
        return None
    for entry in entries:
        if entry and not is_no_domain(entry) and active(task_type, entry):
            return entry
    last = entries[-1]
    return None if not last or is_no_domain(last) else last


def route_domain(domain_spec: str | None, task_type: str, active: ActiveFn) -> str | None:
    """What dispatch routing calls: ``resolve_domain``, except system tasks never get one."""
    if task_type in SYSTEM_TASK_TYPES:
        return None
    return resolve_domain(domain_spec, task_type, active)
