"""Declarations both services share: how a request names its model, the error envelope, the model
description every answer carries, probes and the model catalog."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ..errors import ModelPathNotAllowed
from ..modelref import ModelRef
from .fields import MODEL_PATH_REFUSED, Body, fail, type_name

SHA256_PATTERN = "^[0-9a-f]{64}$"


class _ModelSpec(Body):
    """Exactly one of ``id`` (a shipped model), inline text, or ``sha256`` (text this replica was sent
    before). A bare string is read as a shipped model id."""

    #: the inline formats the service reads
    text_kinds: ClassVar[tuple[str, ...]] = ()
    #: whether inline SBML may come with the documents its external model definitions name
    with_files: ClassVar[bool] = False

    id: str | None = Field(None, min_length=1, description="a shipped model id (see GET /v1/models)",
                           examples=["e_coli_core"])
    sha256: str | None = Field(None, pattern=SHA256_PATTERN,
                               description="sha256 (hex) of model text sent inline before; answered 404 "
                                           "model_not_cached when this replica has not seen it")

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, spec: Any) -> Any:  # replaces Body's check: the messages say "exactly one of"
        if not isinstance(spec, dict):
            raise fail(f"must be an object, got {type_name(spec)}")
        if "path" in spec or "model_path" in spec:
            raise ModelPathNotAllowed(MODEL_PATH_REFUSED)
        kinds = ["id", *cls.text_kinds, "sha256"]
        extra = sorted(set(spec) - set(kinds) - ({"files"} if cls.with_files else set()))
        if extra:
            raise fail(f"has unknown field(s) {extra}; give exactly one of {kinds}")
        given = [k for k in kinds if k in spec]
        if len(given) != 1:
            raise fail(f"must give exactly one of {kinds}, got {given or 'none'}")
        kind = given[0]
        value = spec[kind]
        if not isinstance(value, str) or not value.strip():
            raise fail(f".{kind} must be a non-empty string")
        if kind == "sha256" and (len(value) != 64 or any(c not in "0123456789abcdef" for c in value)):
            raise fail(".sha256 must be 64 lowercase hexadecimal digits")
        if "files" in spec:
            files = spec["files"]
            if kind != "sbml":
                raise fail(".files go with inline SBML only ({\"sbml\": ..., \"files\": {...}})")
            if not isinstance(files, dict) or not files:
                raise fail(".files must be a non-empty object {\"name.xml\": \"<sbml text>\"}")
            for name, text in files.items():
                if not isinstance(text, str) or not text.strip():
                    raise fail(f".files[{name!r}] must be non-empty SBML text")
        return spec

    def ref(self) -> ModelRef:
        for kind in ("id", *self.text_kinds, "sha256"):
            value = getattr(self, kind)
            if value is not None:
                files = tuple(sorted(self.files.items())) if getattr(self, "files", None) else ()
                return ModelRef(kind, value, files)
        raise AssertionError("validated specs give exactly one kind")


class MetabolicModelSpec(_ModelSpec):
    model_config = ConfigDict(title="MetabolicModel", json_schema_extra={"minProperties": 1, "maxProperties": 1})
    text_kinds: ClassVar[tuple[str, ...]] = ("sbml",)

    sbml: str | None = Field(None, min_length=1, description="SBML text (FBC package) of a constraint-based model")


class KineticModelSpec(_ModelSpec):
    model_config = ConfigDict(title="KineticModel", json_schema_extra={"minProperties": 1, "maxProperties": 2})
    text_kinds: ClassVar[tuple[str, ...]] = ("sbml", "antimony")
    with_files: ClassVar[bool] = True

    sbml: str | None = Field(None, min_length=1, description="SBML text (levels 2 and 3, comp package included)")
    antimony: str | None = Field(None, min_length=1, description="Antimony text")
    files: dict[str, str] | None = Field(
        None, description="with sbml only: the SBML documents its external model definitions name, by "
                          "file name; nothing is ever read from disk or the network")


def _bare_id(value: Any) -> Any:
    return {"id": value} if isinstance(value, str) else value


def model_field(spec: type[_ModelSpec]) -> Any:
    """The ``model`` field of a request: a spec object, or a bare shipped id."""
    return Annotated[spec, BeforeValidator(_bare_id, json_schema_input_type=str | spec),
                     Field(description="the model: {\"id\": shipped id} (or the bare id), inline text, or "
                                       "{\"sha256\": ...} of text sent before")]


MetabolicModel = model_field(MetabolicModelSpec)
KineticModel = model_field(KineticModelSpec)


# -- answers -------------------------------------------------------------------------------------
class Answer(BaseModel):
    """An answer body. The engines build answers as plain dicts (numpy arrays of trajectories go to
    JSON without conversion); :meth:`dump` keeps exactly the declared fields, in declared order, so an
    undeclared field cannot leak into an answer. The tests validate real answers against the model."""

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def dump(cls, result: dict) -> dict:
        return {k: result[k] for k in cls.model_fields if k in result}


class Phase1Request(Body):
    """A phase-1 body: fields not declared are accepted and ignored; vm_id and process_code come back."""

    model_config = ConfigDict(extra="allow")
    vm_id: Any = Field(None, description="echoed back")
    process_code: Any = Field(None, description="echoed back")


class Phase1Answer(Answer):
    status: str
    computation_service: str
    vm_id: Any = None
    process_code: Any = None
    execution_result: str


class ModelInfo(Answer):
    id: str | None = Field(None, description="the shipped model id, or null for inline text")
    sha256: str = Field(description="sha256 (hex) of the model text; send {\"sha256\": ...} to reuse inline text")


class ErrorBody(BaseModel):
    code: str = Field(description="stable error code, e.g. invalid_request, unknown_model, timeout")
    message: str = Field(description="what went wrong, naming the field or entity")
    request_id: str | None = Field(None, description="the X-Request-ID of the request")
    details: dict[str, Any] | None = Field(None, description="more about the error (e.g. every invalid field)")


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class Health(Answer):
    status: Literal["healthy", "alive"]
    service: str = Field(description="static_metabolic or dynamic_kinetic")


class EngineProcesses(Answer):
    template: int | None = Field(description="process id of the template the engines are forked from")
    engines: list[int] = Field(description="process ids of the engine processes")


class Readiness(Answer):
    service: str
    ready: bool = Field(description="the shipped models are compiled and engines serve")
    models_loaded: list[str] = Field(default_factory=list, description="ids of the shipped models compiled")
    load_seconds: float | None = Field(None, description="seconds the engine template took to compile the models")
    engines: EngineProcesses
    error: str | None = None
    draining: bool | None = Field(None, description="true while the replica shuts down")


class ModelList(Answer):
    models: list[dict[str, Any]] = Field(description="each shipped model: id, sha256 and a summary")


class ModelIdPath(BaseModel):
    """The path parameter of ``GET /v1/models/{model_id}``."""
    model_id: str = Field(description="a shipped model id")
