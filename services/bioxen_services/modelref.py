"""What engines and the front share about a request's model, without the request schemas (engine
processes never import pydantic): how a model is named, and the largest bound any engine accepts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bioxen_common.modeltext import sha256_text

#: the largest magnitude accepted for a flux bound, a medium uptake bound, a dFBA concentration or vmax.
#: GLPK aborts the whole process (``Assertion failed: teta >= 0.0``) on bounds near 1e308 (5e307 and
#: below were measured fine); 1e30 is far inside what it handles and far above any real flux
#: (mmol/gDW/h) or concentration (mM).
MAX_BOUND = 1e30


@dataclass(frozen=True)
class ModelRef:
    """How a request names its model: a shipped ``id``, inline text, or the ``sha256`` of text sent before.
    ``files``: (name, text) pairs, sorted, that inline SBML's external model definitions name (the
    engine folds them into the text before it is hashed and cached)."""

    kind: str  # "id" | "sbml" | "antimony" | "sha256"
    value: str
    files: tuple[tuple[str, str], ...] = ()

    @cached_property
    def cache_key(self) -> str | None:
        """The sha256 an engine caches this model under (None for shipped models, which every engine has)."""
        if self.kind == "id":
            return None
        return self.value if self.kind == "sha256" else sha256_text(self.value)
