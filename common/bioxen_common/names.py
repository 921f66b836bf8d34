"""Names both sides spell the same way: the two computation services and the port they listen on."""

from __future__ import annotations

#: the two computation services: COBRApy flux balance ("static") and libRoadRunner kinetics ("dynamic")
SERVICES = ("static", "dynamic")
#: the port a service listens on (``bioxen serve --port``) and the one VMs call (``BIOXEN_SERVICE_PORT``)
DEFAULT_PORT = 8000
#: the services' package, run as ``python -m bioxen_services`` by ``bioxen serve`` and the demo
SERVICES_PACKAGE = "bioxen_services"
