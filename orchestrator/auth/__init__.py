"""Authentication and authorization: roles (pure), API keys and tokens (Postgres), OIDC.

The HTTP side (which credential a request carries, which rule a route has) is in
orchestrator/api/auth.py and orchestrator/api/access.py; see docs/security.md.
"""
