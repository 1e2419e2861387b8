"""Retry delays: Conductor's formulas, a cap, and a jitter that replays identically."""

from __future__ import annotations

import pytest

from orchestrator.domain.definitions import RetryLogic, TaskDef
from orchestrator.domain.retry import retry_delay_ms


def task_def(**kw: object) -> TaskDef:
    return TaskDef(name="t", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("retry_count", "seconds"), [(0, 10), (1, 10), (5, 10)])
def test_fixed_delay_is_constant(retry_count: int, seconds: int) -> None:
    td = task_def(retry_delay_seconds=10)
    assert retry_delay_ms(td, retry_count, "task-1") == seconds * 1000


@pytest.mark.parametrize(("retry_count", "seconds"), [(0, 6), (1, 12), (2, 18)])
def test_linear_backoff_scales_with_attempt_and_factor(retry_count: int, seconds: int) -> None:
    td = task_def(
        retry_delay_seconds=2, backoff_scale_factor=3, retry_logic=RetryLogic.LINEAR_BACKOFF
    )
    assert retry_delay_ms(td, retry_count, "task-1") == seconds * 1000


@pytest.mark.parametrize(("retry_count", "seconds"), [(0, 5), (1, 10), (2, 20), (3, 40)])
def test_exponential_backoff_doubles(retry_count: int, seconds: int) -> None:
    td = task_def(retry_delay_seconds=5, retry_logic=RetryLogic.EXPONENTIAL_BACKOFF)
    assert retry_delay_ms(td, retry_count, "task-1") == seconds * 1000


@pytest.mark.parametrize("logic", list(RetryLogic))
def test_max_retry_delay_caps_every_logic(logic: RetryLogic) -> None:
    td = task_def(retry_delay_seconds=100, max_retry_delay_seconds=30, retry_logic=logic)
    assert retry_delay_ms(td, 4, "task-1") == 30_000


def test_zero_cap_means_uncapped() -> None:
    td = task_def(retry_delay_seconds=1, retry_logic=RetryLogic.EXPONENTIAL_BACKOFF)
    assert retry_delay_ms(td, 10, "task-1") == 1024_000


def test_huge_exponent_saturates_instead_of_overflowing() -> None:
    td = task_def(retry_delay_seconds=60, retry_logic=RetryLogic.EXPONENTIAL_BACKOFF)
    assert retry_delay_ms(td, 1000, "task-1") == (2**31 - 1) * 1000


def test_jitter_is_deterministic_per_task_id_and_within_bounds() -> None:
    td = task_def(retry_delay_seconds=1, backoff_jitter_ms=500)
    delays = {tid: retry_delay_ms(td, 0, tid) for tid in (f"task-{i}" for i in range(200))}
    assert all(1000 <= d <= 1500 for d in delays.values())
    assert {tid: retry_delay_ms(td, 0, tid) for tid in delays} == delays  # replay: same values
    assert len(set(delays.values())) > 50  # actually spread, not a constant


def test_jitter_is_added_after_the_cap() -> None:
    td = task_def(retry_delay_seconds=100, max_retry_delay_seconds=10, backoff_jitter_ms=999)
    assert 10_000 <= retry_delay_ms(td, 0, "x") <= 10_999


def test_no_jitter_when_bound_is_zero() -> None:
    assert retry_delay_ms(task_def(retry_delay_seconds=3), 0, "anything") == 3000
