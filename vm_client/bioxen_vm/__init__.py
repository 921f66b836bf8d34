"""BioXen lightweight biological VMs: they hold no engine and ask the centralized services.

Public API: :func:`create_bio_vm`, :class:`BiologicalComputationClient`,
:class:`BiologicalComputationHypervisor`, :func:`get_chassis_config`.
"""

__version__ = "0.2.0"
