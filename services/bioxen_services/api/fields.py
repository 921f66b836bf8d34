"""The field types every request body is built from, and the one translation of a failed validation
into the services' 400 envelope.

Each type is a pydantic ``Annotated`` type: the JSON Schema of the OpenAPI document comes from its
declared constraints, and its validator checks what JSON Schema cannot say (a bool is no number, a
bound past 1e30 aborts GLPK) with a message that names the field. The messages are the services'
phase-2 wording, which the tests and clients match.

Pydantic collects every error of a body; :func:`invalid` reports the first (in field order) as the
message and all of them in ``details.errors``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

from annotated_types import Ge, Gt, Le
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    WithJsonSchema,
    model_validator,
)
from pydantic import ValidationError as PydanticError
from pydantic_core import PydanticCustomError

from ..errors import ModelPathNotAllowed, ValidationError
from ..modelref import MAX_BOUND

#: the error type of every check written here; its message is appended to the field's name
CHECK = "bioxen"


def type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number")


def fail(message: str) -> PydanticCustomError:
    """An error for the field being validated: ``message`` follows its name ("bounds['PGI'] <message>")."""
    return PydanticCustomError(CHECK, "{message}", {"message": message})


# -- numbers -------------------------------------------------------------------------------------
def number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"must be a number, got {type_name(value)}")
    if not math.isfinite(value):
        raise fail(f"must be a finite number, got {value}")
    return value


def _bounded(value: Any) -> float | int:
    value = number(value)
    if abs(value) > MAX_BOUND:
        raise fail(f"is {value:g}, past the limit of {MAX_BOUND:g} on the magnitude of bounds and "
                   f"concentrations (the LP solver fails on numbers near 1e308)")
    return value


def _whole(value: Any) -> int:
    value = number(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise fail(f"must be a whole number, got {value}")
        value = int(value)
    return value


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise fail("must be an array of strings")
    return value


def _object(value: Any) -> dict:
    if not isinstance(value, dict):
        raise fail(f"must be an object, got {type_name(value)}")
    return value


#: any finite number
Number = Annotated[float, BeforeValidator(number)]
#: a finite number that may become an LP bound or a concentration: magnitude at most :data:`MAX_BOUND`
BoundNumber = Annotated[float, Ge(-MAX_BOUND), Le(MAX_BOUND), BeforeValidator(_bounded)]
#: an amount (concentration, uptake bound): 0 .. :data:`MAX_BOUND`
Amount = Annotated[float, Ge(0), Le(MAX_BOUND), BeforeValidator(_bounded)]
#: a number above zero
Positive = Annotated[float, Gt(0), BeforeValidator(number)]
#: a whole number (10.0 is read as 10)
Whole = Annotated[int, BeforeValidator(_whole)]


def whole(*limits) -> Any:
    """A whole number within ``limits`` (annotated_types Ge/Le): constraints go on the integer, then
    the check of the input wraps them, so the JSON Schema says minimum/maximum."""
    return Annotated[int, *limits, BeforeValidator(_whole)]
#: true or false, nothing else (not 0/1, not "true")
Bool = Annotated[bool, Strict()]
StrList = Annotated[list[str], BeforeValidator(_str_list)]


def NumberMap(value: Any = Number, description: str | None = None):  # noqa: N802 (a type factory)
    """``{"id": number}``."""
    return Annotated[dict[str, value], BeforeValidator(_object),
                     Field(description=description)]


def _pair(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise fail("must be a pair [lower, upper]")
    checked = []
    for which, number in zip(("lower", "upper"), value):
        try:
            checked.append(float(_bounded(number)))
        except PydanticCustomError as exc:
            raise fail(f"{which} bound {exc.context['message']}") from None
    lower, upper = checked
    if lower > upper:
        raise fail(f": lower bound {value[0]} is above upper bound {value[1]}")
    return lower, upper


#: ``[lower, upper]`` flux bounds (mmol/gDW/h), each of magnitude at most :data:`MAX_BOUND`, lower <= upper
_BOUND_SCHEMA = {"type": "number", "minimum": -MAX_BOUND, "maximum": MAX_BOUND}
BoundPair = Annotated[tuple[float, float], PlainValidator(_pair),
                      WithJsonSchema({"type": "array", "prefixItems": [_BOUND_SCHEMA, _BOUND_SCHEMA],
                                      "minItems": 2, "maxItems": 2})]
Bounds = Annotated[dict[str, BoundPair], BeforeValidator(_object),
                   Field(description="flux bounds by reaction id: [lower, upper] in mmol/gDW/h",
                         examples=[{"EX_glc__D_e": [-5, 1000]}])]


def check_span(start: float, end: float) -> None:
    """The one check of a time span, for every body that has one (simulations, scans, dFBA, phase 1)."""
    if not end > start:
        raise fail(f"end ({end:g}) must be after start ({start:g})")


# -- bodies --------------------------------------------------------------------------------------
MODEL_PATH_REFUSED = (
    "model_path is not accepted: models are never read from a server path. Name a shipped "
    "model by id ({\"model\": {\"id\": \"e_coli_core\"}}, see GET /v1/models) or send the "
    "model text inline ({\"model\": {\"sbml\": \"<sbml>\"}}).")


class Body(BaseModel):
    """A JSON object with exactly the declared fields. An explicit ``null`` reads as the default.
    Unknown fields are refused with the list of accepted ones (checked before any field, so the
    message says so rather than a type error of a misspelt field's neighbour)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: where the body sits, for messages ("" for a request body, "knockouts" for a nested object)
    where: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise fail(f"must be an object, got {type_name(data)}")
        if "model_path" in data:
            raise ModelPathNotAllowed(MODEL_PATH_REFUSED)
        fields = cls.model_fields
        unknown = sorted(k for k in data if k not in fields)
        if cls.model_config.get("extra") == "forbid" and unknown:
            raise fail(f"unknown field(s) {unknown}; accepted fields: {sorted(fields)}")
        return {k: v for k, v in data.items() if v is not None}  # null means "the default"

    parse = classmethod(lambda cls, data, context=None: parse(cls, data, context))


def parse(model: type[BaseModel], data: Any, context: dict | None = None):
    """``data`` validated as ``model``, or :class:`~bioxen_services.errors.ValidationError` (400) naming
    the field."""
    try:
        return model.model_validate(data, context=context)
    except PydanticError as exc:
        raise invalid(exc) from None


#: fields whose keys are ids (rendered ``bounds['PGI']``); other nested names are fields (``uptake['X'].vmax``)
MAP_FIELDS = frozenset({"bounds", "constraints", "medium", "parameters", "initial_conditions", "grid",
                        "concentrations", "uptake", "files"})


#: names of union members (pydantic puts them in an error's location); not fields
UNION_TAGS = frozenset({"michaelis_menten", "expression_uptake"})


def field_name(loc: tuple) -> str:
    """``("bounds", "PGI", 0)`` → ``bounds['PGI'][0]``, ``("uptake", "X", "vmax")`` →
    ``uptake['X'].vmax``: the names the messages have always used."""
    name, keyed = "", False
    for part in loc:
        if part in UNION_TAGS or (isinstance(part, str) and part.startswith("job:")):
            continue
        if isinstance(part, int):
            name += f"[{part}]"
        elif keyed:
            name += f"[{part!r}]"
        else:
            name += f".{part}" if name else part
        keyed = not keyed and part in MAP_FIELDS
    return name


def _message(error: dict) -> str:
    name = field_name(tuple(error["loc"]))
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == CHECK:
        message = ctx["message"]
        if not name:
            return message
        return name + message if message[:1] in ":[." else f"{name} {message}"
    if kind == "missing":
        return f"missing required field {name!r}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        word, limit = {"greater_than_equal": ("at least", ctx.get("ge")), "greater_than": ("above", ctx.get("gt")),
                       "less_than_equal": ("at most", ctx.get("le")), "less_than": ("below", ctx.get("lt"))}[kind]
        got = f", got {error['input']}" if "input" in error else ""
        return f"{name} must be {word} {limit:g}{got}" if isinstance(limit, float) else f"{name} must be {word} {limit}{got}"
    if kind == "literal_error":
        got = f", got {error['input']!r}" if "input" in error else ""
        return f"{name} must be one of {ctx.get('expected')}{got}"
    if kind == "string_type":
        return f"{name} must be a string, got {type_name(error.get('input'))}"
    if kind == "bool_type":
        return f"{name} must be true or false, got {type_name(error.get('input'))}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{name} must be an object, got {type_name(error.get('input'))}"
    if kind == "string_too_long":
        return f"{name} is longer than {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"{name} must be a non-empty string"
    if kind == "string_pattern_mismatch":
        return f"{name} must match {ctx.get('pattern')}"
    return f"{name}: {error['msg']}" if name else error["msg"]


def invalid(exc: PydanticError) -> ValidationError:
    """The 400 for a failed validation: the first error as the message, all of them in details."""
    errors = exc.errors(include_url=False)
    messages = [_message(e) for e in errors]
    details = {"errors": [{"field": field_name(tuple(e["loc"])), "message": m} for e, m in zip(errors, messages)]}
    return ValidationError(messages[0], details=details if len(messages) > 1 else None)
