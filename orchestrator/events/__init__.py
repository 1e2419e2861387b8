"""Conductor's event handlers at run time: consume the event queues, run the handlers' actions.

``orchestrator event-handlers`` (``processor.py``) consumes ``<p>.event-queues`` (what EVENT
tasks with sink ``conductor`` publish) and every user topic an active ``kafka:<topic>`` handler
names, runs the matching handlers (``orchestrator/domain/event_actions.py``, pure) and sends
the resulting commands on the commands topic, each with the actor ``event-handler:<name>``.
See docs/adr/0009-event-handlers.md and docs/events.md.
"""
