"""The computation client: every request a VM makes to the static (COBRApy) and dynamic
(RoadRunner) services goes through :class:`BiologicalComputationClient`.

- settings (endpoints, timeouts, retries, token, DNS) are read once into a
  :class:`~bioxen_vm.settings.ClientSettings` (``settings=``, else from the environment);
- endpoints come from :mod:`bioxen_vm.discovery` (explicit > environment > cluster DNS) and are used
  in shuffled round-robin order;
- every request has a finite timeout; a request that never reached a service (connect refused, DNS,
  connect timeout) or got 503 (not ready, overloaded, draining: nothing was computed) is retried with
  exponential back-off and jitter on another endpoint (a 503 every replica would give alike,
  ``jobs_unavailable``, is raised at once). A request a service had and lost (the connection
  dropped after it was sent, no answer within the read timeout, 504) is not retried blindly: it raises
  :class:`~bioxen_vm.errors.ComputationLost` / :class:`~bioxen_vm.errors.ServiceTimeout` /
  :class:`~bioxen_vm.errors.ComputationTimeout`, so one request that kills or hangs a service never
  goes on to the next replica. The one exception: a dropped connection whose replica then refuses
  connections altogether (its pod was killed; a request can only kill an engine process, which the live
  front answers with a 500) is sent once more, to another replica;
- 4xx answers raise :class:`~bioxen_vm.errors.ClientRequestError` with the service's code and message;
- inline models (SBML / Antimony text) are named by their sha256 first and the text is sent only when
  the service answers ``404 model_not_cached``; bodies over 64 KB are gzip-compressed;
- large batches (FVA reaction lists, knockout lists, scan grids) are split into chunks, sent
  concurrently over all endpoints and merged back in request order;
- computations too long for one request are submitted as jobs (:meth:`~BiologicalComputationClient.submit`,
  :mod:`bioxen_vm.jobs`), which the services' workers run from a queue.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import logging
import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote

from bioxen_common import modeltext

from . import discovery, metrics
from .errors import (BioXenError, ClientRequestError, ComputationLost, EndpointNotFound, ServiceError,
                     ServiceTimeout, ServiceUnavailable)
from .jobs import Job, reporter, service_of
from .results import (DfbaResult, FbaResult, FvaResult, KnockoutResult, ScanResult, SteadyStateResult, Trajectory,
                      typed)
from .settings import FVA_CHUNK, KNOCKOUT_CHUNK, SCAN_CHUNK, ClientSettings, Timeout
from .transport import HTTPTransport, TransportError

log = logging.getLogger(__name__)

GZIP_THRESHOLD_BYTES = 64 * 1024
JSON = "application/json"
TEXT_KINDS = ("sbml", "antimony")

#: a fan-out's ``progress``: a callable ``(items done, items total)``; None: a tqdm bar when interactive
#: (stderr a terminal, not in a pod); False: nothing
Progress = Callable[[int, int], None] | bool | None
#: 503 codes that every replica would answer alike (no job store configured or reachable): raised at
#: once, the replica stays in rotation for everything else
SHARED_503 = ("jobs_unavailable",)


# -- models ------------------------------------------------------------------------------------------
#: the sha256 a model text is named by, cached for the last few texts: hashing a genome-scale SBML
#: (7 MB) costs 7-16 ms, as much as the FBA it names (bench/RESULTS.md, row fba_inline_iMM904)
sha256_text = functools.lru_cache(maxsize=4)(modeltext.sha256_text)


def model_spec(model: str | dict) -> dict:
    """``"e_coli_core"`` -> ``{"id": "e_coli_core"}``; dicts (id, sha256, sbml, antimony) pass through."""
    if isinstance(model, str):
        return {"id": model}
    if isinstance(model, dict) and len(model) == 1 and next(iter(model)) in ("id", "sha256", *TEXT_KINDS):
        return dict(model)
    raise ValueError("model must be a shipped model id, {\"id\": ...}, {\"sha256\": ...}, "
                     "{\"sbml\": text} or {\"antimony\": text}")


#: the first bytes of a MATLAB .mat file (level 5 and 7.3 both start with this text header)
MATLAB_HEADER = b"MATLAB"


def load_model_file(path: str | Path) -> dict:
    """A local model file as an inline model spec (the text is sent, never the path), told apart by its
    content, not its name: SBML (XML with an ``<sbml>`` element) and Antimony text go as they are; a COBRA
    JSON model (an object with ``reactions`` and ``metabolites``) or a MATLAB ``.mat`` file is converted
    to SBML here with cobra when it is installed, and refused with a :class:`ValueError` saying how to
    convert it otherwise. A file that cannot be read, or is not UTF-8 text (and not MATLAB), is a
    :class:`ValueError` too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if data.startswith(MATLAB_HEADER):
        return {"sbml": _cobra_to_sbml(path, "MATLAB", "load_matlab_model")}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"model file {path} is neither UTF-8 text (SBML, Antimony, COBRA JSON) nor a MATLAB "
                         f".mat file: byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8") from None
    head = text.lstrip()
    if head.startswith("<"):
        if "<sbml" not in text:
            raise ValueError(f"model file {path} is XML but not SBML (no <sbml> element)")
        return {"sbml": text}
    if head.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"model file {path} starts like JSON but is not JSON: {exc}") from None
        if not (isinstance(document, dict) and {"reactions", "metabolites"} <= document.keys()):
            raise ValueError(f"model file {path} is JSON but not a COBRA model (no reactions and metabolites)")
        return {"sbml": _cobra_to_sbml(path, "COBRA JSON", "load_json_model")}
    return {"antimony": text}


def _cobra_to_sbml(path: Path, kind: str, loader: str) -> str:
    """SBML text of a model file only cobra reads (``cobra.io.<loader>``), converted on this side."""
    try:
        import cobra.io
    except ImportError:
        raise ValueError(f"model file {path} is a {kind} model: the services take SBML or Antimony, and "
                         f"converting it needs cobra, which is not installed here. pip install cobra (or "
                         f"'bioxen-vm[cobra]') to have it converted, or convert it yourself: "
                         f"cobra.io.write_sbml_model(cobra.io.{loader}(path), 'model.xml')") from None
    try:
        model = getattr(cobra.io, loader)(str(path))
    except Exception as exc:  # cobra's readers raise anything from KeyError to scipy's own errors
        raise ValueError(f"model file {path} looks like a {kind} model but cobra cannot read it: "
                         f"{type(exc).__name__}: {exc}") from exc
    out = io.StringIO()
    cobra.io.write_sbml_model(model, out)
    return out.getvalue()


def _error_code(answer) -> str | None:
    error = answer.get("error") if isinstance(answer, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def _chunks(items: Sequence, size: int) -> list[list]:
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


class BiologicalComputationClient:
    """Client of both computation services. Thread-safe; use as a context manager or call close()."""

    def __init__(self, static_service_url: str | Sequence[str] | None = None,
                 dynamic_service_url: str | Sequence[str] | None = None, *,
                 settings: ClientSettings | None = None,
                 timeout: Timeout | float | tuple[float, float] | None = None, retries: int | None = None,
                 backoff: float | None = None, backoff_max: float | None = None, concurrency: int | None = None,
                 token: str | None = None, transport=None, environ=None, clock=time.monotonic):
        """``settings`` default to :meth:`ClientSettings.from_env` of ``environ`` (default: the process
        environment); the URLs and keyword arguments given here override them (None: keep)."""
        if settings is not None and environ is not None:
            raise TypeError("give settings or environ, not both")
        settings = settings or ClientSettings.from_env(environ)
        self.settings = settings.replace(timeout=timeout, retries=retries, backoff=backoff,
                                         backoff_max=backoff_max, concurrency=concurrency, token=token)
        self.transport = transport or HTTPTransport()
        self.pools = {
            service: discovery.EndpointPool(service, discovery.source_for(service, explicit, self.settings),
                                            clock=clock, on_change=metrics.set_endpoints)
            for service, explicit in (("static", static_service_url), ("dynamic", dynamic_service_url))
        }
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        self._rng = random.Random()
        self._ids: dict[tuple[str, str], list[str]] = {}

    # -- lifecycle -----------------------------------------------------------------------------------
    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.transport.close()

    def __enter__(self) -> "BiologicalComputationClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def endpoints(self, service: str) -> list[str]:
        try:
            return self.pools[service].endpoints()
        except discovery.DiscoveryError:
            return []

    # -- one request ---------------------------------------------------------------------------------
    def _encode(self, payload, accept: str = JSON) -> tuple[bytes | None, dict[str, str]]:
        headers = {"Accept": accept}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        if payload is None:
            return None, headers
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        headers["Content-Type"] = "application/json"
        if len(body) > GZIP_THRESHOLD_BYTES:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        return body, headers

    def _sleep_before_retry(self, attempt: int) -> None:
        cap = min(self.settings.backoff_max, self.settings.backoff * 2 ** attempt)
        time.sleep(self._rng.uniform(cap / 2, cap))  # "equal jitter": never zero, never in lockstep

    def _replica_gone(self, url: str, probes: int = 3) -> bool:
        """Whether nothing listens at ``url`` any more (its pod is gone). A process being killed may still
        accept a connection for a moment and then reset it, so a reset probe is tried again; a replica
        that keeps accepting and dropping (alive, but broken) is not taken for gone."""
        for probe in range(probes):
            try:
                self.transport.request("GET", url + "/healthz", timeout=Timeout(connect=1.0, read=2.0))
            except TransportError as exc:
                if exc.kind == TransportError.CONNECT:
                    return True
                time.sleep(0.1)
                continue
            return False  # it answers
        return False

    def request(self, service: str, method: str, path: str, payload=None, *,
                timeout: Timeout | None = None, retries: int | None = None, accept: str = JSON) -> Any:
        """One call with failover: the decoded JSON answer, or a :class:`BioXenError`. ``accept``: another
        answer type the operation offers (its body's bytes are returned; errors are JSON all the same)."""
        pool = self.pools[service]
        timeout = timeout or self.settings.timeout
        retries = self.settings.retries if retries is None else retries
        body, headers = self._encode(payload, accept)
        tried: list[str] = []
        last = "no endpoints known"
        resent = False
        for attempt in range(retries + 1):
            if attempt:
                self._sleep_before_retry(attempt - 1)
            url = pool.next(exclude=tried) or pool.next()
            if url is None:
                if not self.settings.in_cluster:  # no DNS name will appear off a cluster: say so at once
                    break
                continue
            tried.append(url)
            try:
                resp = self.transport.request(method, url + path, body=body, headers=headers, timeout=timeout)
            except TransportError as exc:
                if exc.sent:  # the service had it: not sent again blindly (see bioxen_vm.errors)
                    if exc.kind == TransportError.LOST and not resent and self._replica_gone(url):
                        # the whole replica died (a pod killed): a request can only kill an engine
                        # process, which its live front answers with a 500. Sent once more, elsewhere.
                        resent = True
                        pool.mark_failed(url, f"replica gone: {exc}")
                        log.warning("%s: %s%s was lost and the replica no longer answers; sending it once "
                                    "to another replica", service, url, path)
                        last = f"{url}: {exc}"
                        continue
                    lost = ServiceTimeout if exc.kind == TransportError.TIMEOUT else ComputationLost
                    raise lost(service, f"{method} {url}{path}: {exc}", url) from exc
                pool.mark_failed(url, str(exc))
                last = f"{url}: {exc}"
                continue
            try:
                answer = resp.json() if accept == JSON or resp.status >= 400 else None
            except ValueError:
                answer = None
            if resp.status == 503 and _error_code(answer) not in SHARED_503:
                pool.mark_failed(url, "503 not ready")
                last = f"{url}: 503 {ServiceError.from_response(503, answer).message}"
                continue
            pool.mark_ok(url)
            if resp.status >= 400:
                raise ServiceError.from_response(resp.status, answer, url)
            if accept != JSON:
                return resp.body
            if answer is None and resp.body:
                raise ServiceError(resp.status, "invalid_response", "the service answered with invalid JSON",
                                   endpoint=url)
            return answer
        if not tried:
            raise EndpointNotFound(service, discovery.not_found_message(service, pool.source, pool.last_error))
        raise ServiceUnavailable(service, f"{last} (after {retries + 1} attempts)")

    def post(self, service: str, path: str, payload: dict, inner: str | None = None) -> dict:
        """POST with the inline-model protocol: text models go by sha256 first, text on a cache miss.
        ``inner``: the model is in ``payload[inner]`` (a job's ``request``), not in ``payload``."""
        body = payload[inner] if inner else payload
        model = body.get("model")
        if not (isinstance(model, dict) and len(model) == 1 and next(iter(model)) in TEXT_KINDS):
            return self.request(service, "POST", path, payload)
        text = next(iter(model.values()))
        named = {**body, "model": {"sha256": sha256_text(text)}}
        try:
            return self.request(service, "POST", path, {**payload, inner: named} if inner else named)
        except ClientRequestError as exc:
            if exc.code != "model_not_cached":
                raise
            log.debug("%s: model %s not cached at %s; sending its text", path, sha256_text(text)[:12],
                      exc.endpoint)
            return self.request(service, "POST", path, payload)

    # -- fan-out -------------------------------------------------------------------------------------
    def _pool_executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="bioxen-fanout")
            return self._executor

    def fan_out(self, service: str, path: str, bodies: list[dict], sizes: list[int],
                progress: Callable[[int, int], None] | None = None) -> list[dict]:
        """POST each body concurrently; answers in the order of ``bodies``. ``sizes`` counts the items
        of each chunk for ``progress`` (a callable, or None / False: nothing). The first error cancels
        what has not started and is raised."""
        if len(bodies) == 1:
            answers = [self.post(service, path, bodies[0])]
            if progress:
                progress(sizes[0], sizes[0])
            return answers
        total = sum(sizes)
        done = 0
        lock = threading.Lock()

        def report(future, n):
            nonlocal done
            if not future.cancelled() and future.exception() is None and progress:
                with lock:
                    done += n
                    progress(done, total)

        futures = [self._pool_executor().submit(self.post, service, path, body) for body in bodies]
        for future, size in zip(futures, sizes):
            future.add_done_callback(lambda f, n=size: report(f, n))

        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    # -- phase-1 contract ----------------------------------------------------------------------------
    def _phase1(self, service: str, path: str, request: dict) -> dict:
        try:
            return self.request(service, "POST", path, request)
        except ServiceUnavailable as exc:
            return {"status": "service_unavailable", "error": str(exc)}
        except ServiceError as exc:
            return {"status": "error", "error": exc.message, "error_code": exc.code, "http_status": exc.status}

    def request_static_computation(self, request: dict) -> dict:
        """POST /compute/metabolic (phase 1). Never raises: errors come back as ``status``."""
        return self._phase1("static", "/compute/metabolic", request)

    def request_dynamic_computation(self, request: dict) -> dict:
        """POST /compute/kinetic (phase 1). Never raises: errors come back as ``status``."""
        return self._phase1("dynamic", "/compute/kinetic", request)

    def _healthy(self, service: str) -> bool:
        pool = self.pools[service]
        try:
            urls = pool.endpoints()
        except discovery.DiscoveryError:
            return False
        quick = Timeout(min(self.settings.timeout.connect, 2.0), min(self.settings.timeout.read, 5.0))
        for url in urls:
            try:
                resp = self.transport.request("GET", url + "/health", timeout=quick)
            except TransportError as exc:
                pool.mark_failed(url, str(exc))
                continue
            if resp.status == 200:
                pool.mark_ok(url)
                return True
        return False

    def check_service_health(self) -> dict[str, bool]:
        """``{"static_service": bool, "dynamic_service": bool}``: does any endpoint answer /health."""
        return {"static_service": self._healthy("static"), "dynamic_service": self._healthy("dynamic")}

    def service_status(self) -> dict:
        """Endpoints known, endpoints out of rotation, and health, per service."""
        health = self.check_service_health()
        return {service: {"healthy": health[f"{service}_service"], "endpoints": self.endpoints(service),
                          "out_of_rotation": pool.dead(),
                          "source": pool.source.describe()}
                for service, pool in self.pools.items()}

    # -- v1: static service --------------------------------------------------------------------------
    @staticmethod
    def _changes(objective=None, bounds=None, medium=None, knockout_genes=None,
                 knockout_reactions=None) -> dict:
        body: dict = {}
        if objective is not None:
            body["objective"] = objective
        if bounds:
            body["bounds"] = {rid: [lb, ub] for rid, (lb, ub) in bounds.items()}
        if medium is not None:
            body["medium"] = dict(medium)
        knockouts = {k: list(v) for k, v in (("genes", knockout_genes), ("reactions", knockout_reactions)) if v}
        if knockouts:
            body["knockouts"] = knockouts
        return body

    def fba(self, model="e_coli_core", *, objective=None, bounds=None, medium=None, knockout_genes=None,
            knockout_reactions=None, fluxes: Sequence[str] | None = None, method: str = "fba") -> FbaResult:
        """Flux-balance analysis (``method="pfba"`` for parsimonious FBA): status, objective_value, fluxes."""
        body = {"model": model_spec(model), "method": method,
                **self._changes(objective, bounds, medium, knockout_genes, knockout_reactions)}
        if fluxes is not None:
            body["fluxes"] = list(fluxes)
        return FbaResult(self.post("static", "/v1/fba", body))

    def pfba(self, model="e_coli_core", **kwargs) -> FbaResult:
        return self.fba(model, method="pfba", **kwargs)

    def fva(self, model="e_coli_core", reactions: Sequence[str] | None = None, *,
            fraction_of_optimum: float = 1.0, loopless: bool = False, objective=None, bounds=None,
            medium=None, knockout_genes=None, knockout_reactions=None, chunk_size: int = FVA_CHUNK,
            progress: Progress = None) -> FvaResult:
        """Flux variability: ``ranges`` {reaction: {minimum, maximum}} in request order. A reaction list
        longer than ``chunk_size`` is split and fanned out over every endpoint (``progress``: see
        :data:`Progress`)."""
        base = {"model": model_spec(model), "fraction_of_optimum": fraction_of_optimum, "loopless": loopless,
                **self._changes(objective, bounds, medium, knockout_genes, knockout_reactions)}
        if reactions is None:
            reactions = self._shipped_ids(model, "reaction_ids")
            if reactions is None:  # inline model: its ids live only in its text; the service splits it
                return self._whole_model("fva", base, progress)
        chunks = _chunks(list(reactions), chunk_size)
        answers = self._fan_out_reported("fva", "reaction", [{**base, "reactions": c} for c in chunks],
                                         [len(c) for c in chunks], progress)
        merged = FvaResult(answers[0])
        merged["ranges"] = {rid: a["ranges"][rid] for c, a in zip(chunks, answers) for rid in c
                            if rid in a.get("ranges", {})}
        merged["chunks"] = len(chunks)
        return merged

    def knockouts(self, model="e_coli_core", genes: Sequence[str] | str | None = None,
                  reactions: Sequence[str] | str | None = None, sets: Sequence[dict] | None = None, *,
                  objective=None, bounds=None, medium=None, chunk_size: int = KNOCKOUT_CHUNK,
                  progress: Progress = None) -> KnockoutResult:
        """Growth after each deletion: ``results`` in the order genes, reactions, sets (as the service).
        ``"all"`` deletes every gene / reaction one at a time: split into chunks like a list for a shipped
        model (its ids come from ``GET /v1/models/<id>``), one request for an inline one."""
        base = {"model": model_spec(model), **self._changes(objective, bounds, medium)}
        bodies: list[dict] = []
        sizes: list[int] = []
        for key, items in (("genes", genes), ("reactions", reactions), ("sets", sets)):
            if items is None:
                continue
            if items == "all":
                items = self._shipped_ids(model, "gene_ids" if key == "genes" else "reaction_ids")
            if items is None:  # inline model: only the service knows its genes; it splits them as a job
                return self._whole_model("knockouts", {**base, key: "all", **{
                    k: v for k, v in (("genes", genes), ("reactions", reactions), ("sets", sets))
                    if v is not None and k != key}}, progress)
            for chunk in _chunks(list(items), chunk_size):
                bodies.append({**base, key: chunk})
                sizes.append(len(chunk))
        if not bodies:
            raise ValueError("knockouts needs genes, reactions or sets")
        answers = self._fan_out_reported("knockouts", "deletion", bodies, sizes, progress)
        merged = KnockoutResult(answers[0])
        merged["results"] = [r for a in answers for r in a["results"]]
        merged["chunks"] = len(bodies)
        return merged

    def _fan_out_reported(self, kind: str, unit: str, bodies: list[dict], sizes: list[int],
                          progress: Progress) -> list[dict]:
        """:meth:`fan_out` of ``kind``'s endpoint with the ``progress`` the caller asked for (a bar by
        default when interactive), closed however it ends."""
        report, close = reporter(progress, kind, unit)
        service = "static" if kind in ("fva", "knockouts") else "dynamic"
        try:
            return self.fan_out(service, f"/v1/{kind}", bodies, sizes, report)
        finally:
            close()

    def _whole_model(self, kind: str, body: dict, progress: Progress):
        """A whole-model batch the client cannot split (an inline model's ids are in its text): a job,
        which the service splits over every worker and which survives this connection; one synchronous
        request where the service has no job store (503 ``jobs_unavailable``)."""
        try:
            job = self.submit(kind, body)
        except ServiceError as exc:
            if exc.code != "jobs_unavailable":
                raise
            log.info("%s of a whole inline model in one request: %s", kind, exc.message)
            return typed(kind, self._fan_out_reported(kind, "request", [body], [1], progress)[0])
        job.wait(progress=progress)
        return job.result()

    def _shipped_ids(self, model, field: str) -> list[str] | None:
        """Reaction or gene ids of a shipped model (asked once per client and model), or None for a
        model sent inline or by sha256."""
        spec = model_spec(model)
        if "id" not in spec:
            return None
        key = (spec["id"], field)
        if key not in self._ids:
            self._ids[key] = self.request("static", "GET", f"/v1/models/{spec['id']}")[field]
        return self._ids[key]

    def dfba(self, model="e_coli_core", *, biomass: float, concentrations: dict[str, float],
             uptake: dict[str, dict] | None = None, end: float, points: int = 101, **extra) -> DfbaResult:
        """Dynamic FBA (batch culture): POST /v1/dfba on the static service."""
        body = {"model": model_spec(model), "biomass": biomass, "concentrations": dict(concentrations),
                "end": end, "points": points, **extra}
        if uptake:
            body["uptake"] = uptake
        return DfbaResult(self.post("static", "/v1/dfba", body))

    # -- v1: dynamic service -------------------------------------------------------------------------
    @staticmethod
    def _sim(start, end, points, selections, parameters, initial_conditions, integrator, seed) -> dict:
        body: dict = {"start": start, "end": end, "points": points}
        for key, value in (("selections", selections), ("parameters", parameters),
                           ("initial_conditions", initial_conditions), ("integrator", integrator),
                           ("seed", seed)):
            if value is not None:
                body[key] = list(value) if key == "selections" else value
        return body

    def simulate(self, model="gene_expression", *, start: float = 0.0, end: float = 10.0, points: int = 100,
                 selections=None, parameters=None, initial_conditions=None, integrator=None,
                 seed=None, repetitions: int | None = None, species_values: str | None = None) -> Trajectory:
        """Time course: ``time``, ``trajectories`` {id: [values]} and ``units``. With ``repetitions``,
        an ensemble: ``mean`` and ``sd`` per point. ``species_values``: what a bare species id means
        (``"concentrations"`` or ``"amounts"``); default: amounts for the Gillespie integrator (it
        counts molecules), the service's default (concentrations) otherwise."""
        body = {"model": model_spec(model),
                **self._sim(start, end, points, selections, parameters, initial_conditions, integrator, seed)}
        if repetitions is not None:
            body["repetitions"] = repetitions
        if species_values is None and integrator == "gillespie":
            species_values = "amounts"
        if species_values is not None:
            body["species_values"] = species_values
        return Trajectory(self.post("dynamic", "/v1/simulate", body))

    def steady_state(self, model="gene_expression", *, parameters=None, initial_conditions=None,
                     species_values: str | None = None) -> SteadyStateResult:
        body: dict = {"model": model_spec(model)}
        if species_values is not None:
            body["species_values"] = species_values
        if parameters:
            body["parameters"] = parameters
        if initial_conditions:
            body["initial_conditions"] = initial_conditions
        return SteadyStateResult(self.post("dynamic", "/v1/steady-state", body))

    def scan(self, model="gene_expression", grid: dict[str, Sequence[float]] | None = None, *,
             start: float = 0.0, end: float = 10.0, points: int = 100, selections=None, parameters=None,
             initial_conditions=None, output: str = "final", chunk_size: int = SCAN_CHUNK,
             progress: Progress = None) -> ScanResult:
        """Parameter scan over the cartesian product of ``grid`` (first parameter varies slowest).
        Grids larger than ``chunk_size`` points are split along one parameter, fanned out, merged in order."""
        if not grid:
            raise ValueError("scan needs a grid: {\"parameter\": [values...]}")
        grid = {k: list(v) for k, v in grid.items()}
        base = {"model": model_spec(model), "output": output,
                **self._sim(start, end, points, selections, parameters, initial_conditions, None, None)}
        grids = split_grid(grid, chunk_size)
        sizes = [math.prod(len(v) for v in g.values()) for g in grids]
        answers = self._fan_out_reported("scan", "point", [{**base, "grid": g} for g in grids], sizes, progress)
        merged = ScanResult(answers[0])
        merged["points"] = [p for a in answers for p in a["points"]]
        if output == "trajectories":
            merged["trajectories"] = [t for a in answers for t in a["trajectories"]]
        else:
            merged["final"] = {k: [v for a in answers for v in a["final"][k]] for k in answers[0]["final"]}
        merged["chunks"] = len(grids)
        return merged

    def models(self, service: str) -> list[dict]:
        """The service's shipped models, summarized (``GET /v1/models``)."""
        return self.request(service, "GET", "/v1/models")["models"]

    def model(self, service: str, model_id: str) -> dict:
        """One shipped model in detail (``GET /v1/models/{id}``): reaction and gene ids, medium (static);
        species, parameters and reactions (dynamic). 404 ``unknown_model`` for an id it does not ship."""
        return self.request(service, "GET", f"/v1/models/{quote(model_id, safe='')}")

    # -- v1: COMBINE archives --------------------------------------------------------------------------
    def run_omex(self, path: str | Path, service: str | None = None, *, seed: int | None = None,
                 files: bool = True, timeout: Timeout | None = None):
        """Run a COMBINE archive's SED-ML experiment (``POST /v1/omex``) on the service whose tasks it
        holds (``service``, else chosen from its SED-ML algorithms: :func:`bioxen_vm.omex.service_for`).
        Returns an :class:`~bioxen_vm.omex.OmexResult`: the JSON answer, ``.reports`` as pandas
        DataFrames, ``.save(dir)``. With ``files`` (default) the service sends its zip answer (the JSON
        answer with reports.h5, the CSVs and the PNG plots) in the same request; without, JSON only.
        The archive travels base64-encoded in JSON (``{"archive": ...}``, gzip past 64 KB), the form a
        job takes too: ``client.submit("omex", {"archive": ...}, service=...)``."""
        from . import omex

        data = Path(path).read_bytes()
        service = service or omex.service_for(data)
        body = omex.request_body(data, seed)
        if not files:
            return omex.OmexResult(service, self.request(service, "POST", "/v1/omex", body, timeout=timeout))
        answer = self.request(service, "POST", "/v1/omex", body, timeout=timeout, accept=omex.ZIP)
        return omex.OmexResult.from_zip(service, answer)

    def submit_omex(self, path: str | Path, service: str | None = None, *, seed: int | None = None) -> Job:
        """A long archive as a job (kind ``omex``, one chunk) on the service whose tasks it holds; its
        ``result()`` is the JSON answer (``bioxen_vm.omex.OmexResult(service, job.result())``)."""
        from . import omex

        data = Path(path).read_bytes()
        return self.submit("omex", omex.request_body(data, seed), service=service or omex.service_for(data))

    # -- v1: jobs --------------------------------------------------------------------------------------
    def submit(self, kind: str, request: dict | None = None, *, service: str | None = None,
               chunk_size: int | None = None, **fields) -> Job:
        """Submit a job: ``kind`` is the synchronous endpoint (fba, fva, knockouts, dfba on the static
        service; simulate, ensemble, scan, steady-state on the dynamic one, whose name ``service`` may
        give) and ``request`` its body, or its fields as keywords (merged over ``request``); a model
        given as a string is a shipped model id. ``chunk_size``: items per chunk (default: sized by the
        service). Returns the queued :class:`~bioxen_vm.jobs.Job` at once; the same 4xx as the
        synchronous endpoint for a bad request."""
        service = service_of(kind, service)
        body = {**(request or {}), **fields}
        if "model" in body:
            body["model"] = model_spec(body["model"])
        payload: dict = {"kind": kind, "request": body}
        if chunk_size is not None:
            payload["chunk_size"] = chunk_size
        info = self.post(service, "/v1/jobs", payload, inner="request")
        return Job(self, service, info["id"], info)

    def job(self, job_id: str, service: str) -> Job:
        """A job submitted earlier (by this client or any other), by its id; its status is asked at once
        (404 ``unknown_job`` for an id the service does not know)."""
        job = Job(self, service, job_id)
        job.status()
        return job

    def jobs(self, service: str) -> list[dict]:
        """The service's recent jobs, newest first (their status dicts)."""
        return self.request(service, "GET", "/v1/jobs")["jobs"]


def split_grid(grid: dict[str, list], chunk_points: int) -> list[dict[str, list]]:
    """Split a scan grid into sub-grids of about ``chunk_points`` points whose concatenated cartesian
    products equal the whole product in order (itertools.product order: first key slowest).

    Cut along the first parameter with more than one value (every earlier one has a single value);
    each piece keeps the full value lists of the later parameters.
    """
    if chunk_points < 1:
        raise ValueError(f"chunk size must be at least 1, got {chunk_points}")
    keys = list(grid)
    total = math.prod(len(v) for v in grid.values())
    if total <= chunk_points:
        return [grid]
    for i, key in enumerate(keys):
        if len(grid[key]) > 1:
            break
    later = math.prod(len(grid[k]) for k in keys[i + 1:])
    if later > chunk_points and i + 1 < len(keys):
        # even one value of this parameter is too big a piece: fix it and split further down
        return [piece for value in grid[key]
                for piece in split_grid({**grid, key: [value]}, chunk_points)]
    step = max(1, chunk_points // later)
    return [{**grid, key: grid[key][j:j + step]} for j in range(0, len(grid[key]), step)]


__all__ = ["BiologicalComputationClient", "BioXenError", "Job", "ServiceUnavailable", "EndpointNotFound",
           "ComputationLost", "ServiceError", "ClientRequestError", "Timeout", "load_model_file", "model_spec", "split_grid"]
