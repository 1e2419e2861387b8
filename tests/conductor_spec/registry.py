"""The cases: one function per feature of a Conductor spec, registered by `@case`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.conductor_spec.session import Session

CaseFn = Callable[[Session], None]


@dataclass(frozen=True)
class Case:
    name: str  # "<Spec>.<feature>", also the reference file's name
    spec: str  # the Groovy spec it is derived from
    feature: str  # the spec's feature method, as written there
    fn: CaseFn
    heavy: bool  # long waits (timeouts of several seconds): `make conductor-diff` only
    unstable: str | None  # why the real Conductor's own answer varies between runs


CASES: dict[str, Case] = {}


def case(
    spec: str, feature: str, *, heavy: bool = False, unstable: str | None = None
) -> Callable[[CaseFn], CaseFn]:
    """Register a case named `<spec>.<function name>`.

    `unstable`: the real Conductor answers this case differently from run to run (a race of
    its own); its recorded reference is the run that agrees with the spec's assertions, and
    `make conductor-diff` compares with that recording rather than with a live run."""

    def register(fn: CaseFn) -> CaseFn:
        name = f"{spec}.{fn.__name__}"
        if name in CASES:
            raise ValueError(f"case {name} registered twice")
        CASES[name] = Case(name, spec, feature, fn, heavy, unstable)
        return fn

    return register


def all_cases() -> dict[str, Case]:
    import tests.conductor_spec.cases  # noqa: F401 - registers every case

    return dict(sorted(CASES.items()))
