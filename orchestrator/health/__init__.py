"""Health of a deployment: heartbeats of the service processes and what the API makes of them.

- ``heartbeat``: the record a processor, gate or projector publishes on ``<prefix>.status``;
- ``beacon``: publishing them from a service's main loop;
- ``assess``: the verdict per component (pure: heartbeats, partition counts, a time);
- ``monitor``: the API's view (the status topic followed, Kafka and Postgres probed, cached).

How to read /health and /health/ready: docs/operations.md.
"""
