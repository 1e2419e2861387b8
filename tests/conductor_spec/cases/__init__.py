"""Every case module; importing this package registers them all (registry.all_cases)."""

from tests.conductor_spec.cases import simple_workflow  # noqa: F401
