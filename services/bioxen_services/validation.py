"""Typed reading of request bodies. Each function raises :class:`ValidationError` (400) with a
message naming the field, so routes stay a list of ``get_*`` calls."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable

from .cache import sha256_text
from .errors import ModelPathNotAllowed, ValidationError

_MISSING = object()

#: the largest magnitude accepted for a flux bound, a medium uptake bound, a dFBA concentration or vmax.
#: GLPK aborts the whole process (``Assertion failed: teta >= 0.0``) on bounds near 1e308 (5e307 and
#: below were measured fine); 1e30 is far inside what it handles and far above any real flux
#: (mmol/gDW/h) or concentration (mM).
MAX_BOUND = 1e30


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def reject_model_path(body: dict) -> None:
    """The phase-1 prototype read files from ``model_path``; models are named or sent inline."""
    nested = body.get("model") if isinstance(body.get("model"), dict) else {}
    if "model_path" in body or "model_path" in nested or "path" in nested:
        raise ModelPathNotAllowed(
            "model_path is not accepted: models are never read from a server path. Name a shipped "
            "model by id ({\"model\": {\"id\": \"e_coli_core\"}}, see GET /v1/models) or send the "
            "model text inline ({\"model\": {\"sbml\": \"<sbml>\"}}).")


def check_fields(body: dict, allowed: Iterable[str]) -> None:
    allowed = set(allowed)
    unknown = sorted(set(body) - allowed)
    if "model_path" in unknown or "model" in allowed:
        reject_model_path(body)  # say why, rather than "unknown field"
    if unknown:
        raise ValidationError(f"unknown field(s) {unknown}; accepted fields: {sorted(allowed)}")


def get_number(body: dict, key: str, default: Any = _MISSING, *, minimum: float | None = None,
               maximum: float | None = None, integer: bool = False, exclusive_minimum: bool = False):
    value = body.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise ValidationError(f"missing required field {key!r}")
        return default
    return check_number(value, key, minimum=minimum, maximum=maximum, integer=integer,
                        exclusive_minimum=exclusive_minimum)


def check_number(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
                 integer: bool = False, exclusive_minimum: bool = False, magnitude: float | None = None):
    """``value`` as a finite number within the limits given; ``magnitude`` bounds ``abs(value)``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{name} must be a number, got {_type_name(value)}")
    if not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number, got {value}")
    if magnitude is not None and abs(value) > magnitude:
        raise ValidationError(f"{name} is {value:g}, past the limit of {magnitude:g} on the magnitude of bounds "
                              f"and concentrations (the LP solver fails on numbers near 1e308)")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ValidationError(f"{name} must be a whole number, got {value}")
        value = int(value)
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise ValidationError(f"{name} must be {'above' if exclusive_minimum else 'at least'} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name} must be at most {maximum}, got {value}")
    return value


def get_str(body: dict, key: str, default: Any = _MISSING, *, choices: Iterable[str] | None = None):
    value = body.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise ValidationError(f"missing required field {key!r}")
        return default
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be a string, got {_type_name(value)}")
    if choices is not None and value not in choices:
        raise ValidationError(f"{key} must be one of {sorted(choices)}, got {value!r}")
    return value


def get_bool(body: dict, key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError(f"{key} must be true or false, got {_type_name(value)}")
    return value


def get_object(body: dict, key: str, default: Any = _MISSING) -> dict:
    value = body.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise ValidationError(f"missing required field {key!r}")
        return default
    if not isinstance(value, dict):
        raise ValidationError(f"{key} must be an object, got {_type_name(value)}")
    return value


def get_str_list(body: dict, key: str, default: Any = _MISSING) -> list[str]:
    value = body.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise ValidationError(f"missing required field {key!r}")
        return default
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{key} must be an array of strings")
    return value


def get_number_map(body: dict, key: str, *, minimum: float | None = None,
                   magnitude: float | None = None) -> dict[str, float]:
    """``{"id": number}``; empty when absent. Pass ``magnitude=MAX_BOUND`` for values that become LP bounds."""
    mapping = get_object(body, key, {})
    return {k: check_number(v, f"{key}[{k!r}]", minimum=minimum, magnitude=magnitude) for k, v in mapping.items()}


def get_bounds_map(body: dict, key: str) -> dict[str, tuple[float, float]]:
    """``{"reaction_id": [lower, upper]}`` with finite numbers of magnitude at most :data:`MAX_BOUND`
    and lower <= upper."""
    out: dict[str, tuple[float, float]] = {}
    for rid, pair in get_object(body, key, {}).items():
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValidationError(f"{key}[{rid!r}] must be a pair [lower, upper]")
        lb = check_number(pair[0], f"{key}[{rid!r}] lower bound", magnitude=MAX_BOUND)
        ub = check_number(pair[1], f"{key}[{rid!r}] upper bound", magnitude=MAX_BOUND)
        if lb > ub:
            raise ValidationError(f"{key}[{rid!r}]: lower bound {lb} is above upper bound {ub}")
        out[rid] = (float(lb), float(ub))
    return out


@dataclass(frozen=True)
class ModelRef:
    """How a request names its model: a shipped ``id``, inline text, or the ``sha256`` of text sent before.
    ``files``: (name, text) pairs, sorted, that inline SBML's external model definitions name (the
    engine folds them into the text before it is hashed and cached)."""

    kind: str  # "id" | "sbml" | "antimony" | "sha256"
    value: str
    files: tuple[tuple[str, str], ...] = ()

    @cached_property
    def cache_key(self) -> str | None:
        """The sha256 an engine caches this model under (None for shipped models, which every engine has)."""
        if self.kind == "id":
            return None
        return self.value if self.kind == "sha256" else sha256_text(self.value)


def _get_files(spec: dict) -> tuple[tuple[str, str], ...]:
    files = spec.get("files")
    if files is None:
        return ()
    if not isinstance(files, dict) or not files:
        raise ValidationError("model.files must be a non-empty object {\"name.xml\": \"<sbml text>\"}")
    for name, text in files.items():
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"model.files[{name!r}] must be non-empty SBML text")
    return tuple(sorted(files.items()))


def get_model_ref(body: dict, text_kinds: tuple[str, ...], default_id: str | None = None,
                  files: bool = False) -> ModelRef:
    """``files``: whether inline SBML may come with ``"files"`` (documents its external model
    definitions name)."""
    reject_model_path(body)
    spec = body.get("model")
    if spec is None:
        if default_id is None:
            raise ValidationError("missing required field 'model' ({\"id\": ...} or inline text)")
        return ModelRef("id", default_id)
    if isinstance(spec, str):
        return ModelRef("id", spec)
    if not isinstance(spec, dict):
        raise ValidationError(f"model must be an object, got {_type_name(spec)}")
    kinds = ("id", *text_kinds, "sha256")
    given = [k for k in kinds if k in spec]
    extra = sorted(set(spec) - set(kinds) - ({"files"} if files else set()))
    if extra:
        raise ValidationError(f"model has unknown field(s) {extra}; give exactly one of {list(kinds)}")
    if len(given) != 1:
        raise ValidationError(f"model must give exactly one of {list(kinds)}, got {given or 'none'}")
    kind = given[0]
    value = spec[kind]
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"model.{kind} must be a non-empty string")
    if kind == "sha256" and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
        raise ValidationError("model.sha256 must be 64 lowercase hexadecimal digits")
    if "files" in spec and kind != "sbml":
        raise ValidationError("model.files go with inline SBML only ({\"sbml\": ..., \"files\": {...}})")
    return ModelRef(kind, value, _get_files(spec) if files else ())
