"""BioXen lightweight biological VMs: they hold no engine and ask the centralized services.

Public API: :func:`create_bio_vm`, :class:`BiologicalComputationClient`,
:class:`BiologicalComputationHypervisor`, :func:`get_chassis_config`.
Nothing here imports cobra or tellurium; the package installs and runs without them.
"""

from .client import BiologicalComputationClient, load_model_file
from .errors import (BioXenError, ClientRequestError, ServerError, ServiceError, ServiceTimeout,
                     ServiceUnavailable)
from .hypervisor import BiologicalComputationHypervisor
from .transport import MockTransport, Timeout
from .vm import (BIOLOGICAL_TYPES, VM_TYPES, BasicBiologicalVM, EnhancedBiologicalVM,
                 LightweightBiologicalVM, VMStateError, create_bio_vm, get_chassis_config)

__version__ = "0.2.0"

__all__ = [
    "BIOLOGICAL_TYPES", "VM_TYPES", "BasicBiologicalVM", "BioXenError", "BiologicalComputationClient",
    "BiologicalComputationHypervisor", "ClientRequestError", "EnhancedBiologicalVM",
    "LightweightBiologicalVM", "MockTransport", "ServerError", "ServiceError", "ServiceTimeout",
    "ServiceUnavailable", "Timeout", "VMStateError", "create_bio_vm", "get_chassis_config",
    "load_model_file",
]
