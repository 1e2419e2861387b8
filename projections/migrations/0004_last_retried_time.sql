-- Conductor's Workflow.lastRetriedTime (issue #16): when the workflow was last retried (by the
-- API, or revived because a child of it was retried), epoch ms; 0 = never. The workflow timeout
-- runs from it (the engine state's `retried_at`). Rows of older read models read 0 until they
-- are rebuilt from the log (`orchestrator projections rebuild`).
ALTER TABLE workflows ADD COLUMN last_retried_time bigint NOT NULL DEFAULT 0;
