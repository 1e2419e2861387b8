"""Fixtures shared by the end-to-end tests (see tests/runtime_support.py)."""

from tests.runtime_support import runtime  # noqa: F401 - a pytest fixture
