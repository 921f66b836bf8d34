"""Compiled-model stores. Shipped models (named in the bytecode manifest) are compiled once at
start-up and kept; inline model text is compiled once per sha256 and kept in a bounded LRU cache.
A request never re-parses text its engine process has already compiled, and never reads a path it was given.

Subclasses say how to compile text (:meth:`ModelStore.compile`)."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bioxen_common.modeltext import sha256_text

from . import metrics
from .cache import LRUCache
from .errors import InvalidModel, ModelNotCached, UnknownModel
from .settings import Settings
from .modelref import ModelRef
from .zygote import rss_bytes

log = logging.getLogger(__name__)
T = TypeVar("T")

#: SBML never needs a document type declaration; refusing one rules out entity-expansion bombs and
#: external entities before any XML parser sees the text
_DTD = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)
#: SBML comp's external model definitions name a file or URL that a flattening parser would read
_EXTERNAL_MODEL = re.compile(rb"externalModelDefinition", re.IGNORECASE)
#: Antimony's ``import "file"`` reads a file of the server (and quotes it in its error messages)
_ANTIMONY_IMPORT = re.compile(r"\bimport\b")


@dataclass
class Compiled(Generic[T]):
    """A compiled model and where it came from."""

    engine: T
    id: str
    sha256: str
    source: str  # "registry" | "inline"

    def describe(self) -> dict[str, str]:
        return {"id": self.id, "sha256": self.sha256}


def check_xml_text(text: str, what: str = "SBML", external_models: bool = False) -> None:
    """Refuse text that is not an XML document, or that declares a DTD or entities, or (unless
    ``external_models``: the caller resolves them against the request's own files) that names
    external model definitions."""
    if "\x00" in text:  # the parsers stop at a NUL; what they would see is not what was checked
        raise InvalidModel(f"{what} must not contain NUL characters")
    head = text.lstrip()[:1]
    if head != "<":
        raise InvalidModel(f"{what} must be an XML document starting with '<'; got text starting "
                           f"with {text.lstrip()[:20]!r} (models are sent as text, never as paths)")
    if _DTD.search(text.encode("utf-8", "replace")):
        raise InvalidModel(f"{what} with a DOCTYPE or ENTITY declaration is refused: SBML needs neither, "
                           "and entity expansion is not performed by this service")
    if not external_models and _EXTERNAL_MODEL.search(text.encode("utf-8", "replace")):
        raise InvalidModel(f"{what} with comp:externalModelDefinition is refused unless every source it "
                           "names is sent inline: {\"sbml\": ..., \"files\": {\"name.xml\": \"<sbml>\"}}; "
                           "this service never reads files or fetches URLs named by a model")


def check_antimony_text(text: str) -> None:
    """Refuse Antimony ``import`` statements: they read files of the server."""
    if _ANTIMONY_IMPORT.search(text):
        raise InvalidModel("Antimony 'import' statements are refused: this service never reads files named "
                           "by a model; send one self-contained program")


def check_model_text(text: str, fmt: str) -> None:
    """The checks every inline model passes before any parser sees it."""
    if fmt == "antimony":
        check_antimony_text(text)
    else:
        check_xml_text(text)


class ModelStore(Generic[T]):
    service = "service"

    def __init__(self, settings: Settings, shipped: dict[str, tuple[Any, str]]):
        """``shipped`` maps registry id -> (path, format) from the bytecode manifest."""
        self.settings = settings
        self._shipped_specs = shipped
        self.shipped: dict[str, Compiled[T]] = {}
        self._by_sha: dict[str, Compiled[T]] = {}
        self.inline: LRUCache[Compiled[T]] = LRUCache(
            settings.model_cache_size, settings.model_cache_bytes, on_evict=self._evicted)

    # -- subclass API -------------------------------------------------------------------------
    def compile(self, text: str, fmt: str, name: str) -> T:  # pragma: no cover - abstract
        raise NotImplementedError

    def model_id(self, engine: T, fallback: str) -> str:
        return fallback

    def self_check(self, engine: T) -> bool:  # pragma: no cover - abstract
        """A tiny computation on a compiled model: True when its answer is sane."""
        raise NotImplementedError

    # -- loading ------------------------------------------------------------------------------
    def load_shipped(self) -> None:
        for model_id in self.settings.preload_ids(list(self._shipped_specs)):
            self._load_registry(model_id)

    def _load_registry(self, model_id: str) -> Compiled[T]:
        path, fmt = self._shipped_specs[model_id]
        text = path.read_text()
        started = time.perf_counter()
        compiled = Compiled(self.compile(text, fmt, model_id), model_id, sha256_text(text), "registry")
        metrics.MODEL_LOAD_SECONDS.labels(self.service, "registry").observe(time.perf_counter() - started)
        self.shipped[model_id] = compiled
        self._by_sha[compiled.sha256] = compiled
        self._update_gauge()
        log.info("%s: loaded %s in %.2f s", self.service, model_id, time.perf_counter() - started)
        return compiled

    def _evicted(self, key: str) -> None:
        metrics.CACHE_EVICTIONS.labels(self.service).inc()
        self._update_gauge()

    def _update_gauge(self) -> None:
        metrics.MODELS_LOADED.labels(self.service).set(len(self.shipped) + len(self.inline))
        metrics.CACHE_BYTES.labels(self.service).set(self.inline.bytes)

    # -- lookup -------------------------------------------------------------------------------
    def ids(self) -> list[str]:
        return list(self._shipped_specs)

    def get(self, ref: ModelRef) -> Compiled[T]:
        if ref.kind == "id":
            return self.get_shipped(ref.value)
        if ref.kind == "sha256":
            found = self._by_sha.get(ref.value) or self.inline.get(ref.value)
            if found is None:
                metrics.CACHE_MISSES.labels(self.service, "sha256").inc()
                raise ModelNotCached(f"no model with sha256 {ref.value} is cached by this worker; "
                                     "send the model text inline")
            metrics.CACHE_HITS.labels(self.service, "sha256").inc()
            return found
        return self.get_inline(ref.value, ref.kind)

    def get_shipped(self, model_id: str) -> Compiled[T]:
        compiled = self.shipped.get(model_id)
        if compiled is not None:
            metrics.CACHE_HITS.labels(self.service, "registry").inc()
            return compiled
        if model_id not in self._shipped_specs:
            raise UnknownModel(f"unknown model id {model_id!r}; shipped models: {sorted(self._shipped_specs)}")
        metrics.CACHE_MISSES.labels(self.service, "registry").inc()
        return self._load_registry(model_id)

    def get_inline(self, text: str, fmt: str) -> Compiled[T]:
        key = sha256_text(text)
        compiled = self._by_sha.get(key) or self.inline.get(key)
        if compiled is not None:
            metrics.CACHE_HITS.labels(self.service, "inline").inc()
            return compiled
        metrics.CACHE_MISSES.labels(self.service, "inline").inc()
        check_model_text(text, fmt)
        started = time.perf_counter()
        before = rss_bytes()
        engine = self.compile(text, fmt, "inline")
        # counted by the memory the compile added to this process (at least the text itself)
        size = max(rss_bytes() - before, len(text))
        metrics.MODEL_LOAD_SECONDS.labels(self.service, "inline").observe(time.perf_counter() - started)
        compiled = Compiled(engine, self.model_id(engine, key[:12]), key, "inline")
        self.inline.put(key, compiled, size)
        self._update_gauge()
        return compiled
