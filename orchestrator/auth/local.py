"""The admin key of a local ``orchestrator serve`` (what ``make run`` prints).

Kept in ``STATE_DIR/admin.key`` (mode 0600) and reused while it is valid, so the UI asks for it
once, not at every run; a new one is created when the file is missing or its key was revoked.
For a real deployment, create keys with ``orchestrator keys create`` instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from orchestrator.auth.keys import create_key, key_is_valid
from orchestrator.auth.roles import Role
from orchestrator.settings import Settings
from projections.migrate import migrate

PRINCIPAL = "local-admin"


def key_file(settings: Settings) -> Path:
    return Path(settings.state_dir) / "admin.key"


def local_admin_key(settings: Settings) -> tuple[str, bool]:
    """(the key, whether it was created now)."""
    path = key_file(settings)
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=10) as conn:
        migrate(conn)
        if path.exists():
            kept = path.read_text().strip()
            if key_is_valid(conn, kept):
                return kept, False
        new = create_key(conn, Role.ADMIN, PRINCIPAL, created_by="serve").key
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(new + "\n")
    return new, True
