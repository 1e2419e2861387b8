"""A case's view of one server: register, start, poll and work tasks, operate, observe.

Every step a case takes that a Conductor spec asserts on is recorded as an *observation
entry* (a small normalised JSON value). The observation of a case is the list of its entries;
two servers agree on a case when the lists are equal.

Waiting: the real Conductor answers most calls synchronously, this project asynchronously
(through Kafka). So every observation waits, within a deadline, until its `until` condition
holds and (when the reference's observation is known) until it equals the reference's entry.
What is recorded is whatever is seen at that point, so waiting never hides a difference; it
only gives a slower server time. After a first wait that runs out, later waits of the case are
short, so that a case that has gone astray does not cost minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from tests.conductor_spec.client import Answer, ConductorClient
from tests.conductor_spec.defs import (
    HARNESS_TASKS,
    harness_task_def,
    load_workflow,
    prefixed_task_def,
    prefixed_workflow,
    task_names,
)
from tests.conductor_spec.normalise import Normaliser

Workflow = dict[str, Any]
Until = Callable[[Workflow], bool]
WAIT_S = 12.0  # a wait on a server that has not gone astray yet
SHORT_WAIT_S = 2.0  # after a wait ran out
MATCH_WAIT_S = 4.0  # for the reference's view once the case's own condition holds
POLL_INTERVAL_S = 0.1
SETUP_FAILED = "setup failed"


class CaseAborted(Exception):
    """A step a case cannot go on without failed (recorded in the observation)."""


class Session:
    def __init__(
        self,
        client: ConductorClient,
        prefix: str,
        expected: list[Any] | None = None,
        wait_s: float = WAIT_S,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.expected = expected
        self.wait_s = wait_s
        self.norm = Normaliser(prefix)
        self.entries: list[Any] = []
        self.late = 0  # waits that ran out
        self.registered: set[str] = set()  # task definitions this case registered

    # --- recording ------------------------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> None:
        self.entries.append(self.norm(entry))

    def _expected_next(self) -> Any:
        i = len(self.entries)
        if self.expected is not None and i < len(self.expected):
            return self.expected[i]
        return None

    def _deadline(self, wait_s: float | None = None) -> float:
        base = wait_s if wait_s is not None else self.wait_s
        return time.monotonic() + (min(base, SHORT_WAIT_S) if self.late else base)

    def note(self, label: str, value: Any) -> None:
        """Record a value a spec asserts on (normalised like everything else)."""
        self.record({"step": label, "value": value})

    # --- definitions ----------------------------------------------------------------------

    def name(self, name: str) -> str:
        return self.prefix + name

    def task_defs(self, *defs: dict[str, Any] | str) -> None:
        """Register task definitions (a name stands for the harness's own definition)."""
        full = [harness_task_def(d) if isinstance(d, str) else d for d in defs]
        if not full:
            return
        answer = self.client.register_task_defs([prefixed_task_def(self.prefix, d) for d in full])
        self._setup(answer, "register task definitions")
        self.registered.update(d["name"] for d in full)

    def update_task_def(self, task_def: dict[str, Any]) -> None:
        answer = self.client.update_task_def(prefixed_task_def(self.prefix, task_def))
        self._setup(answer, f"update task definition {task_def['name']}")

    def workflow_def(self, source: str | Workflow, **changes: Any) -> Workflow:
        """A workflow definition (a harness file name or a dict), changed and prefixed."""
        wf = load_workflow(source) if isinstance(source, str) else dict(source)
        wf.update(changes)
        return prefixed_workflow(self.prefix, wf)

    def workflows(self, *defs: str | Workflow) -> list[Workflow]:
        """Register (create or update) workflow definitions; answers them as registered.

        The harness's definitions of the tasks they use (WorkflowTestUtil registers them all at
        start-up) are registered first, unless the case registered its own. Only those used:
        registering one costs the real Conductor a few hundred ms on a loaded machine.
        """
        full = [self.workflow_def(d) for d in defs]
        used = set().union(*(task_names(w, self.prefix) for w in full)) if full else set()
        self.task_defs(*sorted((used & HARNESS_TASKS) - self.registered))
        self._setup(self.client.put_workflow_defs(full), "register workflow definitions")
        return full

    def _setup(self, answer: Answer, what: str) -> None:
        if not answer.ok:
            self.record({"step": SETUP_FAILED, "what": what, "code": answer.code})
            raise CaseAborted(f"{what}: {answer.code} {answer.body}")

    # --- workflows ------------------------------------------------------------------------

    def start(
        self,
        name: str,
        workflow_input: dict[str, Any] | None = None,
        *,
        version: int | None = None,
        correlation_id: str | None = None,
        task_to_domain: dict[str, str] | None = None,
        definition: Workflow | None = None,
        label: str | None = None,
    ) -> str:
        """Start a workflow (unprefixed name, or an inline `definition`, prefixed here);
        answers its id, aborts the case if refused."""
        request: dict[str, Any] = {"name": self.name(name), "input": workflow_input or {}}
        if definition is not None:
            request["workflowDef"] = self.workflow_def(definition)
        if version is not None:
            request["version"] = version
        if correlation_id is not None:
            request["correlationId"] = correlation_id
        if task_to_domain:
            request["taskToDomain"] = task_to_domain
        answer = self.client.start(request)
        if not answer.ok or not isinstance(answer.body, str):
            code = answer.code // 100
            self.record({"step": label or f"start {name}", "refused": True, "code_class": code})
            raise CaseAborted(f"start {name}: {answer.code} {answer.body}")
        workflow_id = answer.body.strip().strip('"')
        self.norm.learn_id(workflow_id)
        return workflow_id

    def start_refused(self, name: str, workflow_input: dict[str, Any], label: str) -> None:
        """A start a spec expects to be refused: records whether it was (the code class)."""
        answer = self.client.start({"name": self.name(name), "input": workflow_input})
        self.record({"step": label, "refused": not answer.ok, "code_class": answer.code // 100})

    def get(self, workflow_id: str) -> Workflow:
        answer = self.client.workflow(workflow_id)
        if not answer.ok or not isinstance(answer.body, dict):
            return {"status": f"<GET {answer.code}>", "tasks": []}
        wf: Workflow = answer.body
        self.norm.learn_workflow(wf)
        return wf

    def check(
        self,
        label: str,
        workflow_id: str,
        until: Until | None = None,
        *,
        wf: Iterable[str] = (),
        output: Iterable[str] | None = None,
        variables: Iterable[str] | None = None,
        tasks: bool = True,
        task_fields: Iterable[str] = (),
        task_data: dict[str, dict[str, Iterable[str]]] | None = None,
        extract: Callable[[Workflow], Any] | None = None,
        wait_s: float | None = None,
        decide: bool = False,
    ) -> Workflow:
        """Observe a workflow as GET /workflow/{id}?includeTasks=true shows it.

        Always: status, and (with `tasks`) the task list in order as "taskType ref STATUS".
        Optional: workflow fields (`wf`, e.g. reasonForIncompletion), chosen keys of the
        output and variables, task fields for every task (`task_fields`, e.g. retryCount),
        chosen input/output keys of tasks by reference name (`task_data`), and `extract`
        (anything else a spec asserts, computed from the workflow JSON). `decide` asks the
        server to evaluate the workflow before each look, as the spec's `decide`/`sweep` do
        (Conductor's PUT /workflow/decide/{id}; its answer is not recorded: a server whose
        timers need no sweeper may well not have it).
        """
        spec = _ViewSpec(
            tuple(wf), output, variables, tasks, tuple(task_fields), task_data or {}, extract
        )
        want = self._expected_next()
        deadline = self._deadline(wait_s)
        match_deadline: float | None = None
        while True:
            if decide:
                self.client.decide(workflow_id)
            current = self.get(workflow_id)
            view = self.norm(spec.view(label, current))
            now = time.monotonic()
            if until is None or _holds(until, current):
                if want is None or view == want:
                    break
                # The condition holds but the view differs from the reference's: a lagging
                # server catches up within a few seconds, a different one never does.
                match_deadline = match_deadline or now + min(MATCH_WAIT_S, max(0.0, deadline - now))
            if now > deadline or (match_deadline is not None and now > match_deadline):
                self.late += 1
                break
            time.sleep(POLL_INTERVAL_S)
        self.entries.append(view)
        return current

    def wait(self, workflow_id: str, until: Until, wait_s: float | None = None) -> Workflow:
        """Wait for a condition without recording anything (a spec's await before an act)."""
        deadline = self._deadline(wait_s)
        while True:
            current = self.get(workflow_id)
            if _holds(until, current) or time.monotonic() > deadline:
                return current
            time.sleep(POLL_INTERVAL_S)

    def child(self, workflow_id: str, ref: str, wait_s: float | None = None) -> str:
        """The id of the workflow started by the newest task `ref` (SUB_WORKFLOW), waiting for
        it to be known; "<none>" (a 404 on every later look) if it never is."""
        deadline = self._deadline(wait_s)
        while True:
            for task in reversed(self.get(workflow_id).get("tasks") or []):
                if task.get("referenceTaskName") == ref:
                    child = task.get("subWorkflowId") or (task.get("outputData") or {}).get(
                        "subWorkflowId"
                    )
                    if child:
                        return str(child)
                    break
            if time.monotonic() > deadline:
                self.late += 1
                return "<none>"
            time.sleep(POLL_INTERVAL_S)

    def operate(self, label: str, answer: Answer) -> Answer:
        """Record whether an operation (retry, restart, terminate, ...) was accepted."""
        self.record({"step": label, "accepted": answer.ok, "code_class": answer.code // 100})
        return answer

    def elapse(self, seconds: float) -> None:
        """Let time pass where the scenario itself is about time (a spec's Thread.sleep past a
        time budget); every other wait is a poll loop with a deadline."""
        time.sleep(seconds)

    # --- workers --------------------------------------------------------------------------

    def poll(
        self,
        task_type: str,
        worker: str = "integration.worker",
        *,
        label: str | None = None,
        inputs: Iterable[str] | None = (),
        wait_s: float | None = None,
        domain: str | None = None,
        fields: Iterable[str] = (),
    ) -> dict[str, Any] | None:
        """Poll (unprefixed type) until a task is handed out; records what was (its reference
        name, the `inputs` keys of its input, the `fields` of the task, e.g. iteration)."""
        want = self._expected_next()
        deadline = self._deadline(wait_s)
        task: dict[str, Any] | None = None
        while True:
            answer = self.client.poll(self.name(task_type), worker, domain)
            if answer.code == 200 and isinstance(answer.body, dict):
                task = answer.body
                break
            if want is not None and want.get("task") is None:
                break  # the reference got nothing either: one poll is enough
            if time.monotonic() > deadline:
                self.late += 1
                break
            time.sleep(POLL_INTERVAL_S)
        entry: dict[str, Any] = {"step": label or f"poll {task_type}", "task": None}
        if task is not None:
            self.norm.learn_task(task)
            entry["task"] = task.get("referenceTaskName")
            data = task.get("inputData") or {}
            keys = sorted(data) if inputs is None else list(inputs)
            if keys:
                entry["input"] = {k: data.get(k, "<absent>") for k in keys}
            for f in fields:
                entry[f] = task.get(f, "<absent>")
        self.record(entry)
        return task

    def poll_none(
        self, task_type: str, label: str, for_s: float = 1.0, worker: str = "integration.worker"
    ) -> dict[str, Any] | None:
        """A spec's 'no task is available': poll for `for_s` seconds; records what came."""
        deadline = time.monotonic() + for_s
        task: dict[str, Any] | None = None
        while task is None and time.monotonic() < deadline:
            answer = self.client.poll(self.name(task_type), worker)
            if answer.code == 200 and isinstance(answer.body, dict):
                task = answer.body
                self.norm.learn_task(task)
            else:
                time.sleep(0.2)
        self.record({"step": label, "task": task.get("referenceTaskName") if task else None})
        return task

    def update(
        self,
        task: dict[str, Any] | None,
        status: str,
        output: dict[str, Any] | None = None,
        *,
        reason: str | None = None,
        callback_after_s: int | None = None,
    ) -> None:
        """A worker's TaskResult for a polled task (nothing when the poll got none)."""
        if task is None:
            return
        result: dict[str, Any] = {
            "workflowInstanceId": task["workflowInstanceId"],
            "taskId": task["taskId"],
            "status": status,
            "outputData": output or {},
            "workerId": task.get("workerId") or "integration.worker",
        }
        if reason is not None:
            result["reasonForIncompletion"] = reason
        if callback_after_s is not None:
            result["callbackAfterSeconds"] = callback_after_s
        answer = self.client.update_task(result)
        if not answer.ok:
            self.record({"step": f"update {status} refused", "code_class": answer.code // 100})

    def complete(self, task_type: str, output: dict[str, Any] | None = None, **poll: Any) -> Any:
        """Poll a task and complete it (WorkflowTestUtil.pollAndCompleteTask)."""
        task = self.poll(task_type, **poll)
        self.update(task, "COMPLETED", output)
        return task

    def fail(
        self,
        task_type: str,
        reason: str = "failed",
        output: dict[str, Any] | None = None,
        *,
        status: str = "FAILED",
        **poll: Any,
    ) -> Any:
        """Poll a task and fail it (WorkflowTestUtil.pollAndFailTask)."""
        task = self.poll(task_type, **poll)
        self.update(task, status, output, reason=reason)
        return task


class _ViewSpec:
    def __init__(
        self,
        wf_fields: tuple[str, ...],
        output: Iterable[str] | None,
        variables: Iterable[str] | None,
        tasks: bool,
        task_fields: tuple[str, ...],
        task_data: dict[str, dict[str, Iterable[str]]],
        extract: Callable[[Workflow], Any] | None,
    ) -> None:
        self.wf_fields = wf_fields
        self.output = None if output is None else tuple(output)
        self.variables = None if variables is None else tuple(variables)
        self.tasks = tasks
        self.task_fields = task_fields
        self.task_data = {ref: {k: tuple(v) for k, v in d.items()} for ref, d in task_data.items()}
        self.extract = extract

    def view(self, label: str, wf: Workflow) -> dict[str, Any]:
        view: dict[str, Any] = {"step": label, "status": wf.get("status")}
        for field in self.wf_fields:
            view[field] = _sorted_if_list(wf.get(field))
        if self.output is not None:
            view["output"] = _pick(wf.get("output"), self.output)
        if self.variables is not None:
            view["variables"] = _pick(wf.get("variables"), self.variables)
        if self.tasks:
            view["tasks"] = [self._task(t) for t in wf.get("tasks") or []]
        if self.extract is not None:
            try:
                view["extract"] = self.extract(wf)
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                view["extract"] = f"<{type(exc).__name__}: {exc}>"
        return view

    def _task(self, task: dict[str, Any]) -> Any:
        line = f"{task.get('taskType')} {task.get('referenceTaskName')} {task.get('status')}"
        extra: dict[str, Any] = {f: task.get(f) for f in self.task_fields}
        for part, keys in self.task_data.get(task.get("referenceTaskName", ""), {}).items():
            data = task.get("inputData" if part == "input" else "outputData") or {}
            extra[part] = _pick(data, keys)
        return [line, extra] if extra else line


def _pick(data: Any, keys: tuple[str, ...]) -> Any:
    if not isinstance(data, dict):
        return data
    if keys == ("*",):
        return data
    return {k: data.get(k, "<absent>") for k in keys}


def _sorted_if_list(value: Any) -> Any:
    return (
        sorted(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value)
        else value
    )


def _holds(until: Until, wf: Workflow) -> bool:
    try:
        return bool(until(wf))
    except (KeyError, IndexError, TypeError, ValueError):
        return False


# --- conditions for `until` -------------------------------------------------------------------


def status_is(*statuses: str) -> Until:
    return lambda wf: wf.get("status") in statuses


def tasks_n(n: int, *statuses: str) -> Until:
    """n tasks listed, and (when given) the workflow in one of `statuses`."""
    return lambda wf: (
        len(wf.get("tasks") or []) == n and (not statuses or wf.get("status") in statuses)
    )


def task_status(ref: str, *statuses: str) -> Until:
    """The newest task with reference name `ref` is in one of `statuses`."""

    def check(wf: Workflow) -> bool:
        found = [t for t in wf.get("tasks") or [] if t.get("referenceTaskName") == ref]
        return bool(found) and found[-1].get("status") in statuses

    return check


def ended(wf: Workflow) -> bool:
    return wf.get("status") in ("COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED")
