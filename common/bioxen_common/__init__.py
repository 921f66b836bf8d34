"""What the BioXen computation services and the lightweight VMs share, so that neither imports the other.

- :mod:`.manifest`: the biological bytecode (shipped models and programs, package data) and its manifest;
- :mod:`.names`: the service names and their default port;
- :mod:`.modeltext`: the sha256 an inline model's text is named by;
- :mod:`.token`: the bearer token, from ``BIOXEN_API_TOKEN_FILE`` or ``BIOXEN_API_TOKEN``;
- :mod:`.command`: the ``serve`` command line, offered by ``bioxen serve`` and run by
  ``python -m bioxen_services``.

Standard library only.
"""

__version__ = "0.2.0"
