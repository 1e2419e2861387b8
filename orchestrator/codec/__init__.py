"""Avro encoding of commands, events and definitions: the only package that knows fastavro.

Everything else calls ``get_codec(settings.schemas_dir).encode(name, record)`` and
``.decode(data) -> (name, record)``; see schemas/README.md for the wire format and the rules of
schema evolution.
"""

from orchestrator.codec.codec import HEADER_LENGTH, MARKER, Codec, get_codec
from orchestrator.codec.schemas import CodecError

__all__ = ["HEADER_LENGTH", "MARKER", "Codec", "CodecError", "get_codec"]
