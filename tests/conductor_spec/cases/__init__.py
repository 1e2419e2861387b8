"""Every case module; importing this package registers them all (registry.all_cases)."""

from tests.conductor_spec.cases import (  # noqa: F401
    conditional,
    configuration,
    do_while,
    fork_join,
    simple_workflow,
)
