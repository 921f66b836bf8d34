"""What a COMBINE archive's manifest says, shared by the services (which run archives) and the VM side
(which picks the service an archive goes to)."""

from __future__ import annotations

import re

#: the manifest ``format`` of SED-ML files: the COMBINE specification URI (any level/version suffix; http or
#: https), or the media-type form some tools write (``http://purl.org/NET/mediatypes/application/sedml+xml``)
SEDML_FORMAT = re.compile(r"^https?://(identifiers\.org/combine\.specifications/sed-ml(\..*)?"
                          r"|purl\.org/NET/mediatypes/application/(sedml\+xml|xml\+sedml|sed-ml\+xml))$")
