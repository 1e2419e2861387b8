"""Implementations of the domain ports (orchestrator.domain.ports) on real libraries."""
