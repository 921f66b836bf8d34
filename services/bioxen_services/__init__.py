"""BioXen centralized computation services.

Two Flask applications built by :func:`bioxen_services.app.create_app`:

- ``static``: COBRApy flux-balance analysis (FBA, pFBA, FVA, knockouts, dFBA) on SBML models;
- ``dynamic``: libRoadRunner simulation (ODE and Gillespie) of SBML or Antimony programs.

Serve them with ``python -m bioxen_services serve static|dynamic`` or ``bioxen serve static|dynamic`` (a
front process and supervised engine processes: GLPK and Antimony are not thread-safe).
"""

__version__ = "0.2.0"
#: the name each service gives itself in probes (the service names themselves: bioxen_common.names)
SERVICE_NAMES = {"static": "static_metabolic", "dynamic": "dynamic_kinetic"}
