-- Search, remove and /metrics support (orchestrator/api/routes_search.py, routes_operations.py,
-- metrics.py). See docs/adr/0005-read-model.md.

-- DELETE /api/workflow/{id}/remove never deletes history: it records here that the workflow is
-- hidden from search, correlated and running lists. Owned by the API, not by the projector, so
-- a rebuild of the projected tables keeps it (and who removed what).
CREATE TABLE workflow_removals (
    workflow_id  text PRIMARY KEY,
    removed_at   bigint NOT NULL,   -- epoch ms
    actor        text NOT NULL
);

-- /metrics counts the events applied since its last scrape, per log partition: a range scan
-- of (topic, partition, offset) instead of a count over the whole table.
CREATE INDEX events_log_position ON events (topic, kafka_partition, kafka_offset);

-- The most common search: one workflow type in one status, newest first.
CREATE INDEX workflows_type_status_start ON workflows (workflow_type, status, start_time DESC);
