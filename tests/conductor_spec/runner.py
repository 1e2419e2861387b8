"""Run cases against servers, compare observations, record the reference.

    python scripts/conductor_diff.py                 # live reference vs our server (started here)
    python scripts/conductor_diff.py --record        # also save the reference's observations
    python scripts/conductor_diff.py --recorded      # compare with the saved ones (no reference)
    python scripts/conductor_diff.py -k Switch -v    # cases whose name contains "Switch"

See docs/conductor-compatibility.md.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conductor_spec.client import ConductorClient
from tests.conductor_spec.registry import Case, all_cases
from tests.conductor_spec.session import CaseAborted, Session

REFERENCE_DIR = Path(__file__).with_name("reference")
REFERENCE_URL = "http://127.0.0.1:8127"
REFERENCE_SERVER = "Conductor OSS 3.32.3 (redis backend)"


@dataclass
class Result:
    case: str
    entries: list[Any]
    seconds: float
    late: int = 0
    error: str | None = None
    log: list[str] = field(default_factory=list)


def run_case(base_url: str, case: Case, prefix: str, expected: list[Any] | None) -> Result:
    """One case against one server, in its own client and name prefix."""
    client = ConductorClient(base_url)
    session = Session(client, prefix, expected)
    started = time.monotonic()
    error = None
    try:
        case.fn(session)
    except CaseAborted as exc:
        error = f"aborted: {exc}"
    except Exception as exc:  # a case must not take the run down; show where it broke
        error = f"harness error: {type(exc).__name__}: {exc}"
        session.record({"step": "harness error", "error": type(exc).__name__})
        traceback.print_exc()
    finally:
        client.close()
    return Result(case.name, session.entries, time.monotonic() - started, session.late, error)


def new_prefix(run: str, index: int) -> str:
    return f"cd{run}{index:03d}_"


def reference_path(name: str) -> Path:
    return REFERENCE_DIR / f"{name}.json"


def load_reference(name: str) -> list[Any] | None:
    path = reference_path(name)
    if not path.exists():
        return None
    return list(json.loads(path.read_text())["observation"])


def save_reference(case: Case, result: Result) -> None:
    document = {
        "case": case.name,
        "spec": case.spec,
        "feature": case.feature,
        "server": REFERENCE_SERVER,
        "observation": result.entries,
    }
    REFERENCE_DIR.mkdir(exist_ok=True)
    text = json.dumps(document, indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    reference_path(case.name).write_text(text)


def diff(reference: list[Any], ours: list[Any]) -> list[str]:
    """A unified diff of two observations (empty when they are equal)."""
    if reference == ours:
        return []
    a = _lines(reference)
    b = _lines(ours)
    return list(difflib.unified_diff(a, b, "reference", "ours", n=2, lineterm=""))


def _lines(observation: list[Any]) -> list[str]:
    lines: list[str] = []
    for entry in observation:
        lines.extend(json.dumps(entry, indent=1, ensure_ascii=False).splitlines())
    return lines


@dataclass
class Outcome:
    case: Case
    reference: Result | None
    ours: Result
    expected: list[Any]

    @property
    def matches(self) -> bool:
        return self.expected == self.ours.entries


def compare_case(
    case: Case, index: int, run: str, reference_url: str | None, ours_url: str
) -> Outcome:
    """The reference's observation (live, or recorded when no URL), then ours against it."""
    reference = None
    if reference_url is not None and not case.unstable:
        reference = run_case(reference_url, case, new_prefix(run + "r", index), None)
        expected = reference.entries
    else:
        expected = load_reference(case.name) or []
    ours = run_case(ours_url, case, new_prefix(run + "o", index), expected)
    return Outcome(case, reference, ours, expected)


def run(
    cases: list[Case], reference_url: str | None, ours_url: str, jobs: int
) -> Iterator[Outcome]:
    run_id = uuid.uuid4().hex[:5]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(compare_case, c, i, run_id, reference_url, ours_url)
            for i, c in enumerate(cases)
        ]
        for future in futures:
            yield future.result()


def report(outcome: Outcome, verbose: bool) -> str:
    c, ours = outcome.case, outcome.ours
    word = "PASS" if outcome.matches else "DIFF"
    lines = [f"{word} {c.name}  ({ours.seconds:.1f} s)"]
    if c.unstable:
        lines.append(f"     (compared with the recorded reference: {c.unstable})")
    if outcome.reference is not None and outcome.reference.error:
        lines.append(f"     reference: {outcome.reference.error}")
    if not outcome.matches or verbose:
        if ours.error:
            lines.append(f"     ours: {ours.error}")
        lines.extend(f"     {line}" for line in diff(outcome.expected, ours.entries))
    return "\n".join(lines)


@contextlib.contextmanager
def _ours(url: str | None, log_dir: Path | None) -> Iterator[str]:
    if url:
        yield url
        return
    from tests.conductor_spec.server import our_server

    print("starting orchestrator serve on the shared stack...", flush=True)
    with our_server(log_dir) as started:
        print(f"ours: {started}", flush=True)
        yield started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Conductor spec cases: reference vs ours")
    parser.add_argument("--reference", default=REFERENCE_URL, help="the real Conductor")
    parser.add_argument("--ours", default=None, help="our server (default: start one)")
    parser.add_argument("--recorded", action="store_true", help="compare with saved references")
    parser.add_argument("--record", action="store_true", help="save the reference observations")
    parser.add_argument("--record-only", action="store_true", help="record; do not run ours")
    parser.add_argument("-k", dest="pattern", action="append", default=[], help="name filter")
    parser.add_argument("--no-heavy", action="store_true", help="skip the long-waiting cases")
    parser.add_argument("-j", "--jobs", type=int, default=4)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--log-dir", type=Path, default=None, help="our server's logs")
    args = parser.parse_args(argv)

    cases = [
        c
        for c in all_cases().values()
        if (not args.pattern or any(p.lower() in c.name.lower() for p in args.pattern))
        and not (args.no_heavy and c.heavy)
    ]
    if not cases:
        print("no case matches", file=sys.stderr)
        return 2
    if args.record_only:
        return _record_only(cases, args.reference, args.jobs)
    reference_url = None if args.recorded else args.reference
    started = time.monotonic()
    matched = 0
    with _ours(args.ours, args.log_dir) as ours_url:
        for outcome in run(cases, reference_url, ours_url, args.jobs):
            matched += outcome.matches
            print(report(outcome, args.verbose), flush=True)
            if args.record and outcome.reference is not None and not outcome.case.unstable:
                save_reference(outcome.case, outcome.reference)
    source = "recorded reference" if args.recorded else f"reference ({args.reference})"
    print(
        f"\n{matched}/{len(cases)} cases match the reference  [{source}; "
        f"{time.monotonic() - started:.0f} s]"
    )
    return 0 if matched == len(cases) else 1


def _record_only(cases: list[Case], url: str, jobs: int) -> int:
    run_id = uuid.uuid4().hex[:5]
    if any(c.unstable for c in cases):
        print("note: unstable cases are recorded too; keep only runs that agree with the spec")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(
            lambda ic: (ic[1], run_case(url, ic[1], new_prefix(run_id + "r", ic[0]), None)),
            enumerate(cases),
        )
        for case, result in results:
            save_reference(case, result)
            note = f"  {result.error}" if result.error else ""
            print(f"recorded {case.name} ({result.seconds:.1f} s){note}", flush=True)
    return 0
