"""Inline models are named by the sha256 of their text: the client sends the hash first, a service
caches compiled models under it."""

from __future__ import annotations

import hashlib


def sha256_text(text: str) -> str:
    """The hex sha256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
