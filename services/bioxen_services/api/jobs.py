"""Jobs (issue 14): a submission names a kind and carries exactly the body the synchronous endpoint takes,
validated by the same declaration; a job's status; its result is the synchronous answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from annotated_types import Ge
from pydantic import Discriminator, Field, RootModel, Tag, create_model

from .common import Answer
from .dynamic import ScanRequest, SimulateRequest, SteadyStateRequest
from .fields import CHECK, Body, parse, whole
from .omex import OmexAnswer, OmexRequest
from .static import DfbaRequest, FbaRequest, FvaRequest, KnockoutsRequest

#: per service: kind -> the synchronous path whose body a job of that kind takes, and its declaration
KINDS: dict[str, dict[str, tuple[str, type[Body]]]] = {
    "static": {"fba": ("/v1/fba", FbaRequest), "fva": ("/v1/fva", FvaRequest),
               "knockouts": ("/v1/knockouts", KnockoutsRequest), "dfba": ("/v1/dfba", DfbaRequest),
               "omex": ("/v1/omex", OmexRequest)},
    "dynamic": {"simulate": ("/v1/simulate", SimulateRequest), "ensemble": ("/v1/simulate", SimulateRequest),
                "scan": ("/v1/scan", ScanRequest), "steady-state": ("/v1/steady-state", SteadyStateRequest),
                "omex": ("/v1/omex", OmexRequest)},
}


def _member(service: str, kind: str) -> Any:
    path, request = KINDS[service][kind]
    model = create_model(
        "".join(part.title() for part in kind.split("-")) + "Job", __base__=Body,
        kind=(Literal[kind], Field(description=f"a job that answers as POST {path}")),
        request=(request, Field(description=f"exactly the body POST {path} takes")),
        chunk_size=(whole(Ge(1)) | None, Field(None, description="items per chunk (reactions, deletions, grid points, "
                                                            "repetitions); default: sized to take seconds")))
    return Annotated[model, Tag(f"job:{kind}")]


def _kind_tag(body: Any) -> str | None:
    return f"job:{body.get('kind')}" if isinstance(body, dict) else None


def _submission(service: str) -> type[RootModel]:
    message = f"kind must be one of {sorted(KINDS[service])} (and the body an object {{\"kind\", \"request\"}})"
    union = Annotated[Union[tuple(_member(service, kind) for kind in KINDS[service])],  # noqa: UP007
                      Discriminator(_kind_tag, custom_error_type=CHECK, custom_error_message=message,
                                    custom_error_context={"message": message})]
    model = create_model(f"{service.title()}JobSubmission", __base__=RootModel[union])
    model.parse = classmethod(lambda cls, data, context=None: parse(cls, data, context).root)
    return model


StaticJobSubmission = _submission("static")
DynamicJobSubmission = _submission("dynamic")


class Progress(Answer):
    done: int = Field(description="chunks finished (each a range of reactions, deletions, grid points or "
                                  "repetitions; one chunk for a one-piece kind)")
    total: int = Field(description="chunks in the job")


class JobError(Answer):
    code: str = Field(description="the code the synchronous request would have answered, or chunk_failed "
                                  "when a chunk kept killing its engine")
    message: str
    status: int = Field(description="the HTTP status the synchronous request would have answered")
    details: dict[str, Any] | None = None


class JobAnswer(Answer):
    id: str = Field(description="the job id (unguessable)")
    service: str
    kind: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: Progress
    created: str = Field(description="UTC, ISO 8601")
    started: str | None = Field(None, description="UTC, ISO 8601: when a worker started its first chunk")
    finished: str | None = Field(None, description="UTC, ISO 8601")
    error: JobError | None = Field(None, description="a failed job: what went wrong")


class JobList(Answer):
    jobs: list[JobAnswer] = Field(description="the most recent jobs first")


def results(service: str) -> type[RootModel]:
    """A job's result: the answer of the synchronous endpoint of its kind."""
    from . import dynamic, static

    answers = {"static": (static.FbaAnswer, static.FvaAnswer, static.KnockoutsAnswer, static.DfbaAnswer, OmexAnswer),
               "dynamic": (dynamic.SimulateAnswer, dynamic.ScanAnswer, dynamic.SteadyStateAnswer, OmexAnswer)}[service]
    return create_model(f"{service.title()}JobResult", __base__=RootModel[Union[answers]])  # noqa: UP007
