"""The local development stack (Kafka + PostgreSQL without Docker), driven by scripts/stack.py.

Standard library only: this runs with the system python3 before any virtualenv exists.
"""
