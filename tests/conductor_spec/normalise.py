"""Normalisation: what differs between two servers by nature (ids, name prefixes) is replaced.

Ids are random on Conductor and derived on this project, so every id becomes a symbol named
by what it identifies, in order of first sight: `<wf1>` (workflows), `<task:t2:1>` (the first
task id seen with reference name t2, `:2` the next attempt...), `<id1>` for any other UUID.
Two servers that behave alike see the same things in the same order and so get the same
symbols. The definition-name prefix of a run is removed from every string.
"""

from __future__ import annotations

import re
from typing import Any

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class Normaliser:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.symbols: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def _name(self, ident: str, kind: str) -> str:
        if ident not in self.symbols:
            n = self._counts.get(kind, 0) + 1
            self._counts[kind] = n
            self.symbols[ident] = f"<{kind}{n}>" if kind in ("wf", "id") else f"<{kind}:{n}>"
        return self.symbols[ident]

    def learn_workflow(self, wf: dict[str, Any]) -> None:
        """Give names to a workflow's id and its tasks' ids (in the order Conductor lists them)."""
        if wf.get("workflowId"):
            self._name(wf["workflowId"], "wf")
        for task in wf.get("tasks") or []:
            self.learn_task(task)

    def learn_task(self, task: dict[str, Any]) -> None:
        task_id = task.get("taskId")
        ref = self.strip(str(task.get("referenceTaskName", "?")))
        if task_id:
            self._name(task_id, f"task:{ref}")
        child = task.get("subWorkflowId") or (task.get("outputData") or {}).get("subWorkflowId")
        if isinstance(child, str) and UUID_RE.fullmatch(child):
            self._name(child, "wf")

    def learn_id(self, ident: str) -> str:
        return self._name(ident, "wf")

    def strip(self, text: str) -> str:
        return text.replace(self.prefix, "") if self.prefix else text

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            text = self.strip(value)
            return UUID_RE.sub(lambda m: self._name(m.group(0), "id"), text)
        if isinstance(value, dict):
            return {self(str(k)): self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value
