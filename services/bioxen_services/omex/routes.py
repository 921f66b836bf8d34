"""``POST /v1/omex`` on either service, and the engine-side functions it and the ``omex`` job kind run.

The front checks the archive in memory (:func:`.archive.read_archive`: every refusal is a 4xx before
anything is written), unpacks it into a temporary directory that it removes afterwards whatever
happens (the engine's answer, an error, the engine killed at the deadline), and has an engine process
run it there (:func:`run_unpacked`) under the request's deadline, like every other computation. The
engine renders the answer in the type ``Accept`` asked for, so plotting is bounded by the same deadline.

A job (``{"kind": "omex", "request": {"archive": "<base64>"}}``) is one chunk: its worker's engine
unpacks the archive itself (:func:`run_archive`) into a temporary directory of its own, removed when the
run ends. An engine killed mid-chunk (past ``job_chunk_timeout_seconds``) cannot remove its directory
(``bioxen-omex-<pid>-*`` under the temporary directory): the next omex job on that host removes every
such directory whose process is gone (:func:`.archive.sweep_orphans`).
"""

from __future__ import annotations

from ..api.omex import OMEX_MEDIA, ZIP, OmexAnswer, OmexRequest, example
from ..api.operations import COMPUTE_ERRORS, ApiBlueprint, Upload
from ..jobs.kinds import Kind, Plan, one_chunk
from .archive import Archive, Limits, extracted, read_archive, sweep_orphans

#: which service runs which SED-ML tasks (the other answers 422 unsupported_task)
RUNS = {"static": "flux-balance tasks (KiSAO 0000437 family) on COBRApy",
        "dynamic": "time courses, steady states and repeated tasks of SBML models on libRoadRunner"}


def options(req: OmexRequest) -> dict:
    """The execution's options a request gives (``run_experiment``'s ``options``)."""
    return {} if req.seed is None else {"seed": req.seed}


def run_unpacked(store, root: str, sedml: list[str], service: str, opts: dict, media: str):
    """Engine side: the experiment of an unpacked archive, in ``media``."""
    from . import execute, outputs  # the SED-ML execution imports the engines' libraries: in engines only

    return outputs.render(execute.run_experiment(root, sedml, service, opts), media)


def run_archive(store, data: bytes, limits: Limits, service: str, opts: dict) -> dict:
    """Engine side of an ``omex`` job: unpack, run, answer the JSON answer (after removing what engines
    killed mid-run left unpacked)."""
    from . import execute

    sweep_orphans()
    with extracted(read_archive(data, limits), limits) as (root, sedml):
        return execute.run_experiment(root, sedml, service, opts)


def check(plane, req: OmexRequest) -> Archive:
    """The request's archive, checked (4xx otherwise)."""
    return read_archive(req.archive, Limits.from_settings(plane.settings))


def add_omex_route(bp: ApiBlueprint, service: str) -> None:
    @bp.operation("post", "/v1/omex", request=OmexRequest, answer=OmexAnswer, example=example(service),
                  upload=Upload(ZIP, "archive", "the COMBINE archive (OMEX): a zip with manifest.xml, SED-ML "
                                                "and the models they name"),
                  media=OMEX_MEDIA, errors=(*COMPUTE_ERRORS, 406),
                  summary="run a COMBINE archive's SED-ML simulation experiment",
                  description=f"This service runs {RUNS[service]}. The archive is the body (Content-Type "
                              "application/zip), the multipart field `archive`, or base64 in JSON. Every task "
                              "of its SED-ML files runs; the answer holds every report and plot, and the "
                              "algorithms substituted. Accept: application/json (default), application/x-hdf5 "
                              "(reports.h5) or application/zip (CSVs, PNGs, reports.h5, answer.json). An "
                              "archive is refused (4xx) when unsafe: '..' or absolute entries, links, zip "
                              "bombs, models by URL. Long archives: POST /v1/jobs with kind omex.")
    def omex(plane, req: OmexRequest, media: str):
        archive = check(plane, req)
        limits = Limits.from_settings(plane.settings)
        with extracted(archive, limits) as (root, sedml):
            return plane.compute("omex", run_unpacked, None, root, sedml, plane.service, options(req), media)


# -- the omex job kind (both services) ------------------------------------------------------------
def job_args(plane, req: OmexRequest) -> tuple:
    """A job's arguments: the archive, checked now (the same 4xx as the synchronous path), the limits
    to unpack it with, and the service that runs it."""
    return check(plane, req).data, Limits.from_settings(plane.settings), plane.service, options(req)


def plan_omex(store, data: bytes, limits: Limits, service: str, opts: dict) -> Plan:
    """One chunk: the archive was checked by the front; its tasks are checked when they run."""
    return Plan()


JOB_KIND = Kind("omex", plan_omex, *one_chunk(run_archive))
