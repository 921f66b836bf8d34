"""The services' errors. Each class knows its HTTP status and a stable ``code``; one Flask handler
(:func:`bioxen_services.web.init_errors`) turns them into the JSON envelope
``{"error": {"code", "message", "request_id"}}``.

::

    ServiceError (500 internal_error)
    ├── BadRequest (400 bad_request)
    │   ├── InvalidJSON (400 invalid_json)
    │   ├── ValidationError (400 invalid_request)
    │   ├── ModelPathNotAllowed (400 model_path_not_allowed)
    │   ├── InvalidModel (400 invalid_model)            malformed SBML / Antimony
    │   ├── InvalidArchive (400 invalid_archive)        a COMBINE archive / SED-ML that is malformed
    │   │   ├── UnsafeArchiveEntry (400 unsafe_archive_entry)   '..', absolute path, symlink, duplicate
    │   │   ├── InvalidManifest (400 invalid_manifest)  missing, malformed, names absent files, no SED-ML
    │   │   └── ExternalModel (400 external_model)      a SED-ML model by URL or outside the archive
    │   └── UnknownEntity (400 unknown_<kind>)          reaction, gene, species, parameter ...
    ├── Unauthorized (401 unauthorized)
    ├── NotFound (404 not_found)
    │   ├── UnknownModel (404 unknown_model)
    │   ├── ModelNotCached (404 model_not_cached)       client should resend the model text
    │   └── UnknownJob (404 unknown_job)                never submitted, or its results expired
    ├── JobNotFinished (409 job_not_finished)           its result asked before it succeeded
    ├── NotAcceptable (406 not_acceptable)             no answer type the Accept header allows
    ├── PayloadTooLarge (413 payload_too_large)
    │   └── ArchiveTooLarge (413 archive_too_large)     too many entries, too large unpacked, a zip bomb
    ├── UnsupportedMediaType (415 unsupported_media_type)
    ├── LimitExceeded (422 limit_exceeded)
    ├── ComputationFailed (422 computation_failed)      e.g. no steady state found
    ├── UnsupportedFeature (422 unsupported_feature)    valid SBML the engine cannot simulate
    ├── UnsupportedTask (422 unsupported_task)          a SED-ML task this service cannot run
    ├── RequestCancelled (499 cancelled)              the client went away; nobody reads the answer
    ├── EngineFailed (500 engine_failed)              the engine process died or erred; it was replaced
    │   └── ChunkFailed (500 chunk_failed)            a job's chunk died on every attempt (a poison chunk)
    ├── NotReady (503 not_ready)
    ├── Overloaded (503 overloaded)                   every engine busy and the wait queue full
    ├── JobsUnavailable (503 jobs_unavailable)        no job store configured, or it cannot be reached
    └── ComputationTimeout (504 timeout)              past the deadline; the engine process was killed
"""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}

    def __reduce__(self):
        """Picklable whatever a subclass's ``__init__`` takes: errors cross from engine processes."""
        return (_rebuild, (type(self), self.message, self.code, self.details))


def _rebuild(cls, message: str, code: str, details: dict) -> ServiceError:
    error = Exception.__new__(cls)
    ServiceError.__init__(error, message, code=code, details=details)
    return error


class BadRequest(ServiceError):
    status_code = 400
    code = "bad_request"


class InvalidJSON(BadRequest):
    code = "invalid_json"


class ValidationError(BadRequest):
    code = "invalid_request"


class ModelPathNotAllowed(BadRequest):
    code = "model_path_not_allowed"


class InvalidModel(BadRequest):
    code = "invalid_model"


class InvalidArchive(BadRequest):
    """A COMBINE archive or its SED-ML that cannot be run as written: malformed XML, a reference that
    resolves to nothing, a model by URL or by a path outside the archive. ``details.entry`` names the
    archive entry at fault where there is one; the subclasses below are the intake's refusals
    (:mod:`.omex.archive`)."""

    code = "invalid_archive"


class UnknownEntity(BadRequest):
    """An id the model does not have. ``kind`` is reaction, gene, species, parameter, ..."""

    def __init__(self, kind: str, ids, model: str = ""):
        ids = [ids] if isinstance(ids, str) else list(ids)
        shown = ", ".join(repr(i) for i in ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        where = f" in model {model!r}" if model else ""
        plural = "s" if len(ids) > 1 else ""
        super().__init__(f"unknown {kind}{plural}{where}: {shown}", code=f"unknown_{kind}",
                         details={"kind": kind, "ids": ids[:100]})


class UnsafeArchiveEntry(InvalidArchive):
    code = "unsafe_archive_entry"


class InvalidManifest(InvalidArchive):
    code = "invalid_manifest"


class ExternalModel(InvalidArchive):
    code = "external_model"


class Unauthorized(ServiceError):
    status_code = 401
    code = "unauthorized"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"


class UnknownModel(NotFound):
    code = "unknown_model"


class ModelNotCached(NotFound):
    code = "model_not_cached"


class UnknownJob(NotFound):
    code = "unknown_job"


class JobNotFinished(ServiceError):
    status_code = 409
    code = "job_not_finished"


class NotAcceptable(ServiceError):
    status_code = 406
    code = "not_acceptable"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"


class ArchiveTooLarge(PayloadTooLarge):
    code = "archive_too_large"


class UnsupportedMediaType(ServiceError):
    status_code = 415
    code = "unsupported_media_type"


class LimitExceeded(ServiceError):
    status_code = 422
    code = "limit_exceeded"


class ComputationFailed(ServiceError):
    status_code = 422
    code = "computation_failed"


class RequestCancelled(ServiceError):
    status_code = 499
    code = "cancelled"


class EngineFailed(ServiceError):
    code = "engine_failed"


class ChunkFailed(EngineFailed):
    code = "chunk_failed"


class UnsupportedFeature(ServiceError):
    """Valid SBML that the engine cannot simulate (libRoadRunner: algebraic rules, delay(), fast
    reactions). ``feature`` names it."""

    status_code = 422
    code = "unsupported_feature"

    def __init__(self, feature: str, where: str = ""):
        super().__init__(f"the kinetic engine (libRoadRunner) does not support {feature}"
                         + (f": {where}" if where else ""), details={"feature": feature})


class UnsupportedTask(ServiceError):
    """A valid SED-ML task that this service cannot run (an FBA task sent to the kinetic service, a time
    course sent to the metabolic one, an algorithm with no substitute, a change kind not implemented).
    The message names the task, its SED-ML file and why."""

    status_code = 422
    code = "unsupported_task"

    def __init__(self, task: str, sedml: str, reason: str):
        super().__init__(f"task {task!r} of {sedml!r} cannot be run here: {reason}",
                         details={"task": task, "sedml": sedml, "reason": reason})


class NotReady(ServiceError):
    status_code = 503
    code = "not_ready"


class Overloaded(ServiceError):
    status_code = 503
    code = "overloaded"


class JobsUnavailable(ServiceError):
    status_code = 503
    code = "jobs_unavailable"


class ComputationTimeout(ServiceError):
    status_code = 504
    code = "timeout"
