-- Event handlers (issue #16; docs/adr/0009-event-handlers.md) are definitions like workflow and
-- task definitions: kind 'event_handler', version 0, body = Conductor's EventHandler JSON.
ALTER TABLE definitions DROP CONSTRAINT definitions_kind_check;
ALTER TABLE definitions
    ADD CONSTRAINT definitions_kind_check CHECK (kind IN ('workflow', 'task', 'event_handler'));
