-- API keys and the session tokens exchanged for them (orchestrator/auth/keys.py, ADR 0012).
-- Owned by the API, not by the projector: not a fold of the log, so a rebuild of the read
-- model copies them over (projections/rebuild.py API_OWNED_TABLES). Only hashes are stored:
-- a key's secret and a token are shown once, to whoever created them.

CREATE TABLE api_keys (
    key_id       text PRIMARY KEY,            -- key_<12 hex>: public, names the key
    secret_hash  text NOT NULL,               -- sha256 hex of the 256-bit random secret
    principal    text NOT NULL,               -- recorded as the actor: api:<principal>
    role         text NOT NULL,               -- admin, operator, viewer, worker
    task_types   text[],                      -- a worker key's task types; NULL: any
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL,
    revoked_at   timestamptz
);

-- POST /api/token (Conductor's key id + secret exchange): short-lived bearer tokens.
CREATE TABLE api_tokens (
    token_hash   text PRIMARY KEY,            -- sha256 hex of the token
    key_id       text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX api_tokens_expiry ON api_tokens (expires_at);
