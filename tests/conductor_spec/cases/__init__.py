"""Every case module; importing this package registers them all (registry.all_cases)."""

from tests.conductor_spec.cases import (  # noqa: F401
    configuration,
    fork_join,
    simple_workflow,
)
