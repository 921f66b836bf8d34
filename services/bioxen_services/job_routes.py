"""``/v1/jobs``: long computations as jobs, on either service. A submission carries exactly the body of the
synchronous endpoint, validated by the same declaration; it is turned into the same engine arguments, and
the job layer (:mod:`.jobs`) checks it against the model, splits it into chunks and queues them for the
workers. The result is the synchronous answer."""

from __future__ import annotations

from flask import Response

from .api.common import Answer
from .api.jobs import DynamicJobSubmission, JobAnswer, JobList, StaticJobSubmission, results
from .api.operations import ApiBlueprint
from .errors import ValidationError
from .jobs import service as jobs
from .omex import routes as omex_routes
from .web import json_response

JOB_ERRORS = (400, 401, 404, 413, 415, 422, 499, 500, 503, 504)
ID_ERRORS = (401, 404, 503)
JOB_ID = {"job_id": ("the id POST /v1/jobs answered", "hn3x1Jm0c2u5o1Q1a9Zt2w0b")}


def _static_args(kind: str, req, plane) -> tuple:
    from .static.dfba_routes import problem
    from .static.routes import changes, deletions

    if kind == "fba":
        return changes(req), req.method, req.fluxes
    if kind == "fva":
        return changes(req), req.reactions, req.fraction_of_optimum, req.loopless
    if kind == "knockouts":
        batch, every = deletions(req)
        return changes(req), batch, every
    return (problem(req, plane.settings.max_dfba_points),)


def _dynamic_args(kind: str, req, plane) -> tuple:
    from .dynamic.engine import SimSpec
    from .dynamic.routes import sim_spec, values

    if kind == "steady-state":
        return (SimSpec(**values(req)),)
    spec = sim_spec(req, plane.settings.max_time_points)
    if kind == "ensemble" and spec.repetitions is None:
        raise ValidationError("request.repetitions is needed for an ensemble job (the number of runs)")
    if kind == "scan":
        return spec, {k: list(v) for k, v in req.grid.items()}, req.output
    return (spec,)


def _model_ref(service: str, req):
    if service == "dynamic":
        from .dynamic.routes import model_ref

        return model_ref(req)
    return req.model.ref()


def submit(plane, sub) -> Response:
    if sub.kind == "omex":  # both services; the archive names its models itself
        ref, args = None, omex_routes.job_args(plane, sub.request)
    else:
        args = (_static_args if plane.service == "static" else _dynamic_args)(sub.kind, sub.request, plane)
        ref = _model_ref(plane.service, sub.request)
    job = jobs.current().submit(sub.kind, ref, *args, chunk_size=sub.chunk_size)
    return json_response(JobAnswer.dump(job.to_dict()), 202, headers={"Location": job.location})


bp_static = ApiBlueprint("static_jobs", __name__)
bp_dynamic = ApiBlueprint("dynamic_jobs", __name__)


def _routes(bp: ApiBlueprint, submission, example: dict, answers: type[Answer]) -> None:
    @bp.operation("post", "/v1/jobs", request=submission, answer=JobAnswer, status=202, tag="jobs",
                  errors=JOB_ERRORS, summary="submit a long computation as a job",
                  description="The request is exactly the synchronous endpoint's body (same validation, same 4xx "
                              "errors here). The job is split into chunks that workers on every replica run; "
                              "poll GET /v1/jobs/{job_id}, then fetch GET /v1/jobs/{job_id}/result.",
                  example=example)
    def submit_job(plane, sub):
        return submit(plane, sub)

    @bp.operation("get", "/v1/jobs", answer=JobList, tag="jobs", errors=(401, 503), summary="recent jobs")
    def list_jobs(plane):
        return {"jobs": [job.to_dict() for job in jobs.current().list()]}

    @bp.operation("get", "/v1/jobs/{job_id}", answer=JobAnswer, tag="jobs", errors=ID_ERRORS, parameters=JOB_ID,
                  summary="a job's status and progress")
    def get_job(plane, job_id: str):
        return jobs.current().status(job_id).to_dict()

    @bp.operation("get", "/v1/jobs/{job_id}/result", answer=answers, tag="jobs", errors=(*ID_ERRORS, 409),
                  parameters=JOB_ID, summary="a finished job's answer: what the synchronous endpoint answers")
    def get_job_result(plane, job_id: str):
        return json_response(jobs.current().result(job_id))

    @bp.operation("delete", "/v1/jobs/{job_id}", answer=JobAnswer, tag="jobs", errors=ID_ERRORS, parameters=JOB_ID,
                  summary="cancel a job: its queued chunks are dropped at once, running ones stopped")
    def cancel_job(plane, job_id: str):
        return jobs.current().cancel(job_id).to_dict()


_routes(bp_static, StaticJobSubmission, {"kind": "fva", "request": {
    "model": {"id": "e_coli_core"}, "reactions": ["PGI", "PFK"]}}, results("static"))
_routes(bp_dynamic, DynamicJobSubmission, {"kind": "ensemble", "request": {
    "model": {"id": "gene_expression"}, "integrator": "gillespie", "end": 10, "points": 11, "repetitions": 20,
    "seed": 1}}, results("dynamic"))
BLUEPRINTS = {"static": bp_static, "dynamic": bp_dynamic}
