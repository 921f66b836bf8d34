"""BioXen lightweight biological VMs: they hold no engine and ask the centralized services.

Public API: :func:`create_bio_vm`, :class:`BiologicalComputationClient` (and its :class:`Job`),
:class:`BiologicalComputationHypervisor`, :func:`get_chassis_config`; the typed results the client
returns (:mod:`.results`: ``FbaResult``, ``Trajectory`` ...) and their plots (:mod:`.plots`).
Nothing here imports cobra or tellurium; the package installs and runs without them.

Names are imported lazily (PEP 562), so ``import bioxen_vm`` and the ``bioxen`` command stay quick.
What the services share with the VMs (the manifest, service names, hashing, the token) is in
``bioxen_common``; this package never imports ``bioxen_services``.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_EXPORTS = {
    "BiologicalComputationClient": "client", "load_model_file": "client",
    "BioXenError": "errors", "ClientRequestError": "errors", "ComputationLost": "errors",
    "ComputationTimeout": "errors", "ServerError": "errors",
    "ServiceError": "errors", "ServiceTimeout": "errors", "ServiceUnavailable": "errors",
    "EndpointNotFound": "errors",
    "BiologicalComputationHypervisor": "hypervisor", "Job": "jobs", "JobTimeout": "jobs",
    "MockTransport": "transport", "ClientSettings": "settings", "Timeout": "settings",
    "BIOLOGICAL_TYPES": "vm", "VM_TYPES": "vm", "BasicBiologicalVM": "vm", "EnhancedBiologicalVM": "vm",
    "LightweightBiologicalVM": "vm", "VMStateError": "vm", "create_bio_vm": "vm", "get_chassis_config": "vm",
    "run_service_based_computation_demo": "demo",
    "FbaResult": "results", "FvaResult": "results", "KnockoutResult": "results", "Trajectory": "results",
    "ScanResult": "results", "SteadyStateResult": "results", "DfbaResult": "results",
    "PlotError": "plots", "save_plot": "plots",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bioxen_vm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
