-- Conductor's failedTaskNames beside failedReferenceTaskNames (failed_ref_names), both as the
-- workflow's end events record them (docs/adr/0002-engine-state-machine.md, "Failure").
-- NULL: never recorded by an end event that carries the names (logs written before them);
-- failed_ref_names then follows the older rule (the failed task's reference only) and is
-- cleared when the workflow runs again. Once recorded, retry and restart keep both, rerun
-- clears both.
ALTER TABLE workflows ADD COLUMN failed_task_names text[];
