"""Kimi's limits on batch ``metadata``, checked before the batch is created."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kimi.batch.errors import KimiValueError

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, str] | None:
    """Return the metadata as a plain dict, or raise ``ValueError`` naming the offending key."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise KimiValueError(f"metadata must be a mapping of strings to strings, got {type(metadata).__name__}.")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise KimiValueError(f"metadata has {len(metadata)} pairs; Kimi allows at most {MAX_METADATA_PAIRS}.")
    checked: dict[str, str] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise KimiValueError(f"metadata key {key!r} must be a non-empty string.")
        if len(key) > MAX_METADATA_KEY_CHARS:
            raise KimiValueError(f"metadata key {key[:20]!r}... is {len(key)} characters; the limit is 64.")
        if not isinstance(value, str):
            raise KimiValueError(f"metadata[{key!r}] must be a string, got {type(value).__name__}.")
        if len(value) > MAX_METADATA_VALUE_CHARS:
            raise KimiValueError(f"metadata[{key!r}] is {len(value)} characters; the limit is 512.")
        checked[key] = value
    return checked
