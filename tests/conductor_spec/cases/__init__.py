"""Every case module; importing this package registers them all (registry.all_cases)."""

from tests.conductor_spec.cases import (  # noqa: F401
    conditional,
    configuration,
    do_while,
    dynamic_fork,
    exclusive_join,
    fork_join,
    json_jq,
    retry_policy,
    simple_workflow,
    start_workflow,
    sub_workflow,
    sub_workflow_levels,
    system_tasks,
    task_limits,
    terminate_and_failure,
)
