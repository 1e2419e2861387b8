"""Audit replay: fold the event log again with the engine's pure ``evolve``, show histories,
travel in time, verify the read model against the log (docs/audit.md).

Pure: ``fold`` (evolve + read-model bookkeeping), ``sequence`` (re-emissions, conflicts, gaps),
``scan`` (one pass over records), ``compare``, ``rows``, ``history``, ``timeline``.
With I/O: ``logread`` (Kafka, up to the start-time end offsets), ``store`` (Postgres),
``verify`` (the whole check), ``cli`` (``orchestrator history`` / ``orchestrator replay``).
Submodules are imported explicitly: importing this package pulls in no Kafka or Postgres client.
"""
