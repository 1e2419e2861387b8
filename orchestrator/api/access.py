"""The access rule of every route: which permission it needs (orchestrator/auth/roles.py).

One table for the whole API, so that a reviewer reads who may do what in one place and the
route x role test (tests/unit/test_access_rules.py) can prove every route has a rule. A route
with no rule here is refused to everyone but admins (and logged at start): fail closed.

Worker keys may be limited to task types: ``TASK_TYPE`` says where a route's task type is found
(the path's ``taskType``, the reported task's id in the body, or the workflow id and task
reference of the path), and orchestrator/api/auth.py checks it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from starlette.routing import compile_path

from orchestrator.auth.roles import Permission

P = Permission

RULES: dict[tuple[str, str], Permission] = {
    # public: no data behind them
    ("GET", "/health"): P.PUBLIC,
    ("GET", "/health/ready"): P.PUBLIC,  # a load balancer's readiness probe
    ("POST", "/api/token"): P.PUBLIC,  # exchanges a key id + secret for a token
    ("GET", "/"): P.PUBLIC,  # the UI's pages and files; their data comes from /api
    ("GET", "/execution/{workflow_id}"): P.PUBLIC,
    ("GET", "/definitions"): P.PUBLIC,
    ("GET", "/definitions/workflow/{name}"): P.PUBLIC,
    ("GET", "/queues"): P.PUBLIC,
    ("GET", "/ui/{path:path}"): P.PUBLIC,
    ("GET", "/openapi.json"): P.PUBLIC,  # the API's description (FastAPI's own routes)
    ("GET", "/docs"): P.PUBLIC,
    ("GET", "/docs/oauth2-redirect"): P.PUBLIC,
    ("GET", "/redoc"): P.PUBLIC,
    # any credential
    ("GET", "/api/token/userInfo"): P.AUTHENTICATED,
    # read
    ("GET", "/metrics"): P.READ,
    ("GET", "/api/ui/queues"): P.READ,
    ("GET", "/api/workflow/search"): P.READ,
    ("GET", "/api/workflow/search-v2"): P.READ,
    ("GET", "/api/tasks/search"): P.READ,
    ("GET", "/api/tasks/search-v2"): P.READ,
    ("GET", "/api/workflow/{name}/correlated/{correlation_id}"): P.READ,
    ("POST", "/api/workflow/{name}/correlated"): P.READ,  # a read with a list in its body
    ("GET", "/api/workflow/running/{name}"): P.READ,
    ("GET", "/api/workflow/{workflow_id}"): P.READ,
    ("GET", "/api/workflow/{workflow_id}/status"): P.READ,
    ("GET", "/api/workflow/{workflow_id}/history"): P.READ,
    ("GET", "/api/workflow/{workflow_id}/state"): P.READ,
    ("GET", "/api/metadata/taskdefs"): P.READ,
    ("GET", "/api/metadata/taskdefs/{name}"): P.READ,
    ("GET", "/api/metadata/workflow"): P.READ,
    ("GET", "/api/metadata/workflow/{name}"): P.READ,
    ("GET", "/api/event"): P.READ,
    ("GET", "/api/event/{event}"): P.READ,
    ("GET", "/api/tasks/queue/sizes"): P.READ,
    ("GET", "/api/tasks/{taskId}/log"): P.READ,
    ("GET", "/api/tasks/{taskId}"): P.READ,
    # operate
    ("POST", "/api/workflow"): P.OPERATE,
    ("POST", "/api/workflow/{name}"): P.OPERATE,
    ("POST", "/api/workflow/execute/{name}/{version}"): P.OPERATE,
    ("DELETE", "/api/workflow/{workflow_id}"): P.OPERATE,
    ("PUT", "/api/workflow/{workflow_id}/pause"): P.OPERATE,
    ("PUT", "/api/workflow/{workflow_id}/resume"): P.OPERATE,
    ("POST", "/api/workflow/{workflow_id}/restart"): P.OPERATE,
    ("POST", "/api/workflow/{workflow_id}/retry"): P.OPERATE,
    ("POST", "/api/workflow/{workflow_id}/rerun"): P.OPERATE,
    ("PUT", "/api/workflow/{workflow_id}/skiptask/{task_reference_name}"): P.OPERATE,
    ("DELETE", "/api/workflow/{workflow_id}/remove"): P.OPERATE,
    ("POST", "/api/workflow/bulk/{action}"): P.OPERATE,
    ("PUT", "/api/workflow/bulk/{action}"): P.OPERATE,
    # finish an open task by reference (WAIT, HUMAN): operators and workers
    ("POST", "/api/tasks/{workflowId}/{taskRefName}/{status}"): P.COMPLETE_TASK,
    # work
    ("GET", "/api/tasks/poll/batch/{taskType}"): P.WORK,
    ("GET", "/api/tasks/poll/{taskType}"): P.WORK,
    ("POST", "/api/tasks"): P.WORK,
    ("POST", "/api/tasks/update-v2"): P.WORK,
    # define
    ("POST", "/api/metadata/taskdefs"): P.DEFINE,
    ("PUT", "/api/metadata/taskdefs"): P.DEFINE,
    ("POST", "/api/metadata/workflow"): P.DEFINE,
    ("PUT", "/api/metadata/workflow"): P.DEFINE,
    ("POST", "/api/event"): P.DEFINE,  # event handlers are definitions
    ("PUT", "/api/event"): P.DEFINE,
    ("DELETE", "/api/event/{name}"): P.DEFINE,
}


class TaskTypeFrom(Enum):
    PATH = "the path's taskType"
    BODY_TASK_ID = "the reported task's id (body taskId)"
    WORKFLOW_AND_REF = "the path's workflow id and task reference"


TASK_TYPE: dict[tuple[str, str], TaskTypeFrom] = {
    ("GET", "/api/tasks/poll/batch/{taskType}"): TaskTypeFrom.PATH,
    ("GET", "/api/tasks/poll/{taskType}"): TaskTypeFrom.PATH,
    ("POST", "/api/tasks"): TaskTypeFrom.BODY_TASK_ID,
    ("POST", "/api/tasks/update-v2"): TaskTypeFrom.BODY_TASK_ID,
    ("POST", "/api/tasks/{workflowId}/{taskRefName}/{status}"): TaskTypeFrom.WORKFLOW_AND_REF,
}


@dataclass(frozen=True, slots=True)
class Rule:
    method: str
    path: str
    permission: Permission
    task_type: TaskTypeFrom | None = None
    missing: bool = False  # no entry in RULES: admins only


def rule_for(method: str, path: str) -> Rule:
    permission = RULES.get((method, path))
    if permission is None:
        return Rule(method, path, Permission.MANAGE_KEYS, None, missing=True)
    return Rule(method, path, permission, TASK_TYPE.get((method, path)))


@dataclass(frozen=True, slots=True)
class RouteIndex:
    """Every route's rule, by endpoint (what FastAPI's routing picked) and in matching order.

    ``match`` finds a request's rule before FastAPI parses anything of it (the authentication
    middleware answers 401/403 before a malformed body could be answered 400); the route
    dependency then checks again with the endpoint FastAPI actually chose.
    """

    by_endpoint: dict[Callable[..., Any], Rule]
    routes: tuple[Rule, ...]
    patterns: tuple[tuple[re.Pattern[str], Rule], ...]

    @classmethod
    def build(cls, routes: Iterable[tuple[str, str, Callable[..., Any]]]) -> RouteIndex:
        """``routes``: (method, full path, endpoint), in the order the app matches them. One
        endpoint serving several routes must have the same rule on all of them."""
        by_endpoint: dict[Callable[..., Any], Rule] = {}
        all_rules = []
        for method, path, endpoint in routes:
            rule = rule_for(method, path)
            all_rules.append(rule)
            known = by_endpoint.get(endpoint)
            if known is not None and (known.permission, known.task_type) != (
                rule.permission,
                rule.task_type,
            ):
                raise ValueError(
                    f"{endpoint.__qualname__} serves {known.method} {known.path} and {method} "
                    f"{path} under different access rules: split the endpoint"
                )
            by_endpoint[endpoint] = rule
        patterns = tuple((compile_path(r.path)[0], r) for r in all_rules)
        return cls(by_endpoint, tuple(all_rules), patterns)

    def match(self, method: str, path: str) -> Rule | None:
        """The rule of the first route matching, as the router would pick it (None: no route,
        the router answers 404 or 405)."""
        for pattern, rule in self.patterns:
            if rule.method == method and pattern.match(path):
                return rule
        return None

    @property
    def missing(self) -> list[Rule]:
        return [r for r in self.routes if r.missing]
