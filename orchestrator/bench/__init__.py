"""`orchestrator bench`: the end-to-end benchmark modelled on Orkes' published Conductor workload.

A 13-step workflow (7 worker tasks, FORK_JOIN, SWITCH, INLINE, SET_VARIABLE, SUB_WORKFLOW with one
worker step), open-loop starts at a fixed rate, processors and SDK workers as subprocesses, all
figures read back from the event log. See docs/benchmarks.md.
"""
