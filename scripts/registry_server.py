"""A small schema registry speaking the Confluent REST API, for the local stack and the tests.

    python scripts/registry_server.py --port 18081 --data .stack/registry/schemas.json

A STAND-IN (docs/adr/0013-schema-registry.md): the stack runs Apicurio Registry
(ORCHESTRATOR_STACK_REGISTRY=1, scripts/stacklib/apicurio.py); this one runs with
ORCHESTRATOR_STACK_REGISTRY=standin and in the tests by default, because it needs no Maven build
and starts in under a second. In production, point
ORCHESTRATOR_SCHEMA_REGISTRY_URL at Confluent Schema Registry, Karapace, Apicurio
(/apis/ccompat/v7) or a managed one. What it implements is what Kafka serializers and
this project call: register (POST /subjects/S/versions), look up (POST /subjects/S), GET
/schemas/ids/N (+ /subjects, /versions), GET /subjects, /subjects/S/versions[/V|latest],
GET/PUT /config. Ids are global, one per distinct schema (the same schema under two subjects
keeps its id), and kept in the data file (JSON, rewritten atomically on each change): records
on Kafka carry the id forever, so a restart must never renumber. No compatibility checks
(the project's own rules are in schemas/README.md); no authentication (loopback only).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

JSON = "application/vnd.schemaregistry.v1+json"


class Store:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.schemas: list[dict[str, Any]] = []  # index + 1 = id: {schema, schemaType, references}
        self.subjects: dict[str, list[int]] = {}  # subject -> ids by version (1-based)
        self.compatibility = "NONE"
        if path is not None and path.exists():
            data = json.loads(path.read_text())
            self.schemas, self.subjects = data["schemas"], data["subjects"]

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"schemas": self.schemas, "subjects": self.subjects}))
        os.replace(tmp, self.path)

    def _id_of(self, entry: dict[str, Any]) -> int | None:
        for i, known in enumerate(self.schemas):
            if known == entry:
                return i + 1
        return None

    def register(self, subject: str, entry: dict[str, Any]) -> tuple[int, int]:
        with self.lock:
            schema_id = self._id_of(entry)
            if schema_id is None:
                self.schemas.append(entry)
                schema_id = len(self.schemas)
            versions = self.subjects.setdefault(subject, [])
            if schema_id not in versions:
                versions.append(schema_id)
                self._save()
            return schema_id, versions.index(schema_id) + 1

    def lookup(self, subject: str, entry: dict[str, Any]) -> tuple[int, int] | None:
        with self.lock:
            schema_id = self._id_of(entry)
            versions = self.subjects.get(subject, [])
            if schema_id is None or schema_id not in versions:
                return None
            return schema_id, versions.index(schema_id) + 1


def normalized(body: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a request's schema: its JSON re-serialised compactly (so spacing does
    not make a second id), its type (AVRO when absent) and references."""
    text = body["schema"]
    kind = body.get("schemaType") or "AVRO"
    if kind in ("AVRO", "JSON"):
        text = json.dumps(json.loads(text), separators=(",", ":"))
    return {"schema": text, "schemaType": kind, "references": body.get("references") or []}


def view(entry: dict[str, Any], **extra: Any) -> dict[str, Any]:
    out = {"schema": entry["schema"], **extra}
    if entry["schemaType"] != "AVRO":
        out["schemaType"] = entry["schemaType"]
    if entry["references"]:
        out["references"] = entry["references"]
    return out


class Handler(BaseHTTPRequestHandler):
    store: Store
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", JSON)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: int, message: str) -> None:
        self._send(status, {"error_code": code, "message": message})

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/") if p]
        s = self.store
        if parts == ["config"] or (len(parts) == 2 and parts[0] == "config"):
            return self._send(200, {"compatibilityLevel": s.compatibility})
        if parts == ["subjects"]:
            return self._send(200, sorted(s.subjects))
        if parts == ["schemas", "types"]:
            return self._send(200, ["AVRO"])
        if len(parts) >= 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
            return self._schema_by_id(int(parts[2]), parts[3:])
        if len(parts) >= 3 and parts[0] == "subjects" and parts[2] == "versions":
            return self._subject_version(parts[1], parts[3:])
        self._error(404, 404, f"no such resource: {self.path}")

    def _schema_by_id(self, schema_id: int, rest: list[str]) -> None:
        s = self.store
        if not 1 <= schema_id <= len(s.schemas):
            return self._error(404, 40403, f"Schema {schema_id} not found")
        pairs = [
            (subj, vs.index(schema_id) + 1) for subj, vs in s.subjects.items() if schema_id in vs
        ]
        if rest == ["subjects"]:
            return self._send(200, sorted(subj for subj, _ in pairs))
        if rest == ["versions"]:
            return self._send(200, [{"subject": a, "version": b} for a, b in pairs])
        self._send(200, view(s.schemas[schema_id - 1]))

    def _subject_version(self, subject: str, rest: list[str]) -> None:
        versions = self.store.subjects.get(subject)
        if versions is None:
            return self._error(404, 40401, f"Subject '{subject}' not found.")
        if not rest:
            return self._send(200, list(range(1, len(versions) + 1)))
        v = (
            len(versions)
            if rest[0] in ("latest", "-1")
            else int(rest[0])
            if rest[0].isdigit()
            else 0
        )
        if not 1 <= v <= len(versions):
            return self._error(404, 40402, f"Version {rest[0]} not found.")
        schema_id = versions[v - 1]
        entry = self.store.schemas[schema_id - 1]
        self._send(200, view(entry, subject=subject, version=v, id=schema_id))

    def do_POST(self) -> None:
        parts = [unquote(p) for p in urlparse(self.path).path.strip("/").split("/") if p]
        try:
            entry = normalized(self._body())
        except (ValueError, KeyError, TypeError) as exc:
            return self._error(422, 42201, f"Invalid schema: {exc}")
        if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
            schema_id, version = self.store.register(parts[1], entry)
            return self._send(200, {"id": schema_id, "subject": parts[1], "version": version})
        if len(parts) == 2 and parts[0] == "subjects":
            found = self.store.lookup(parts[1], entry)
            if found is None:
                return self._error(404, 40403, "Schema not found")
            return self._send(200, view(entry, subject=parts[1], id=found[0], version=found[1]))
        self._error(404, 404, f"no such resource: {self.path}")

    def do_PUT(self) -> None:
        if re.fullmatch(r"/config(/[^/]+)?", urlparse(self.path).path.rstrip("/")):
            level = self._body().get("compatibility", "NONE")
            return self._send(200, {"compatibility": level})
        self._error(404, 404, f"no such resource: {self.path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", type=Path, default=None, help="JSON file (none: in memory)")
    args = parser.parse_args()
    if args.data is not None:
        args.data.parent.mkdir(parents=True, exist_ok=True)
    Handler.store = Store(args.data)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"schema registry on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
