-- The read model: a fold of the events topic (and of the definitions topic), rebuilt from the
-- log at will. Times are epoch milliseconds (bigint), as on the wire and in Conductor's JSON.
-- See docs/adr/0005-read-model.md.

-- One row per workflow execution (its current generation).
CREATE TABLE workflows (
    workflow_id          text PRIMARY KEY,
    root_workflow_id     text NOT NULL,
    parent_workflow_id   text,
    parent_task_id       text,
    workflow_type        text NOT NULL,
    version              integer NOT NULL,
    status               text NOT NULL,
    correlation_id       text,
    priority             integer NOT NULL DEFAULT 0,
    idempotency_key      text,
    input                jsonb NOT NULL DEFAULT '{}',
    output               jsonb NOT NULL DEFAULT '{}',
    variables            jsonb NOT NULL DEFAULT '{}',
    task_to_domain       jsonb NOT NULL DEFAULT '{}',
    reason               text,
    failed_task_id       text,
    failed_ref_names     text[] NOT NULL DEFAULT '{}',
    failure_workflow_id  text,
    create_time          bigint NOT NULL,
    start_time           bigint NOT NULL,   -- start of the current generation
    update_time          bigint NOT NULL,
    end_time             bigint,            -- NULL while not terminal
    last_seq             bigint NOT NULL,   -- seq of the last event applied to this row
    generation           integer NOT NULL DEFAULT 0,
    task_count           integer NOT NULL DEFAULT 0,  -- source of the tasks' Conductor seq
    definition           jsonb NOT NULL,    -- Conductor JSON of the definition it runs
    search_text          tsvector           -- freeText over input and output (trigger below)
);

-- Conductor's search fields (workflowType, status, correlationId, times, parentWorkflowId).
CREATE INDEX workflows_type_start ON workflows (workflow_type, start_time DESC);
CREATE INDEX workflows_status_start ON workflows (status, start_time DESC);
CREATE INDEX workflows_correlation ON workflows (correlation_id) WHERE correlation_id IS NOT NULL;
CREATE INDEX workflows_start_time ON workflows (start_time DESC);
CREATE INDEX workflows_update_time ON workflows (update_time DESC);
CREATE INDEX workflows_end_time ON workflows (end_time DESC) WHERE end_time IS NOT NULL;
CREATE INDEX workflows_parent ON workflows (parent_workflow_id) WHERE parent_workflow_id IS NOT NULL;
CREATE INDEX workflows_root ON workflows (root_workflow_id);
CREATE INDEX workflows_search_text ON workflows USING gin (search_text);

-- Recomputed only when input or output change: most events touch neither, and a generated
-- column would re-tokenise both documents on every status or time update.
CREATE FUNCTION workflows_search_text() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_text :=
        jsonb_to_tsvector('simple'::regconfig, NEW.input, '["string", "numeric", "key"]')
        || jsonb_to_tsvector('simple'::regconfig, NEW.output, '["string", "numeric", "key"]');
    RETURN NEW;
END
$$;

CREATE TRIGGER workflows_search_text_insert BEFORE INSERT ON workflows
    FOR EACH ROW EXECUTE FUNCTION workflows_search_text();
CREATE TRIGGER workflows_search_text_update BEFORE UPDATE ON workflows
    FOR EACH ROW
    WHEN (OLD.input IS DISTINCT FROM NEW.input OR OLD.output IS DISTINCT FROM NEW.output)
    EXECUTE FUNCTION workflows_search_text();

-- Every task attempt ever scheduled (retries, loop iterations, earlier generations).
CREATE TABLE tasks (
    task_id                 text PRIMARY KEY,
    workflow_id             text NOT NULL,
    ref                     text NOT NULL,     -- referenceTaskName (with the loop suffix)
    definition_ref          text NOT NULL,     -- the WorkflowTask's reference in the definition
    name                    text NOT NULL,     -- taskDefName
    task_type               text NOT NULL,     -- Conductor taskType (the name for SIMPLE)
    kind                    text NOT NULL,     -- the built-in type it runs as
    status                  text NOT NULL,
    input                   jsonb NOT NULL DEFAULT '{}',
    output                  jsonb NOT NULL DEFAULT '{}',
    retry_count             integer NOT NULL DEFAULT 0,
    retried_task_id         text,
    retried                 boolean NOT NULL DEFAULT false,  -- a newer attempt exists
    iteration               integer NOT NULL DEFAULT 0,
    optional                boolean NOT NULL DEFAULT false,
    dispatched              boolean NOT NULL DEFAULT true,
    worker_id               text,
    reason                  text,
    logs                    jsonb NOT NULL DEFAULT '[]',
    poll_count              integer NOT NULL DEFAULT 0,
    callback_after_seconds  bigint NOT NULL DEFAULT 0,
    start_delay_ms          bigint NOT NULL DEFAULT 0,
    child_workflow_id       text,
    task_def                jsonb,             -- effective TaskDef (Conductor JSON)
    workflow_task           jsonb,             -- a dynamic task's WorkflowTask (Conductor JSON)
    scheduled_time          bigint NOT NULL,
    start_time              bigint,
    update_time             bigint NOT NULL,
    end_time                bigint,
    seq                     integer NOT NULL,  -- Conductor's task seq: order of scheduling
    generation              integer NOT NULL DEFAULT 0,
    retired                 boolean NOT NULL DEFAULT false,  -- cut by a restart or rerun
    last_event_seq          bigint NOT NULL    -- workflow event seq that last changed the row
);

CREATE INDEX tasks_workflow_seq ON tasks (workflow_id, seq);
CREATE INDEX tasks_type_status ON tasks (task_type, status);
CREATE INDEX tasks_update_time ON tasks (update_time DESC);

-- The full history, one row per event; (workflow_id, seq) drops re-emitted duplicates.
CREATE TABLE events (
    workflow_id       text NOT NULL,
    seq               bigint NOT NULL,
    root_workflow_id  text NOT NULL,
    type              text NOT NULL,
    at                bigint NOT NULL,
    actor             text NOT NULL,
    data              jsonb NOT NULL,
    topic             text NOT NULL,    -- where in the log the event was read from
    kafka_partition   integer NOT NULL,
    kafka_offset      bigint NOT NULL,
    PRIMARY KEY (workflow_id, seq)
);

CREATE INDEX events_at ON events (at);

-- Registered definitions (task definitions have version 0: Conductor does not version them).
CREATE TABLE definitions (
    kind           text NOT NULL CHECK (kind IN ('workflow', 'task')),
    name           text NOT NULL,
    version        integer NOT NULL,
    body           jsonb NOT NULL,
    registered_at  bigint NOT NULL,
    actor          text NOT NULL DEFAULT '',
    PRIMARY KEY (kind, name, version)
);

-- Where each consumer is in each partition: written in the same transaction as the rows.
CREATE TABLE projector_offsets (
    consumer        text NOT NULL,
    topic           text NOT NULL,
    partition       integer NOT NULL,
    next_offset     bigint NOT NULL,
    high_watermark  bigint,            -- log end offset seen when the batch was read
    last_event_at   bigint,            -- largest event time (epoch ms) applied so far
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
