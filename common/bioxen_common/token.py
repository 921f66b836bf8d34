"""The optional shared bearer token, read once at start-up by a service and by a VM client.

``BIOXEN_API_TOKEN_FILE`` names a file holding the token (the chart mounts its Secret there) and wins
over ``BIOXEN_API_TOKEN``, the token itself. Surrounding white space (a trailing newline) is removed.
Both sides give the settings one meaning:

- neither variable set, or set to an empty (or white-space-only) value: no token. A service then needs
  none; a client sends none;
- ``BIOXEN_API_TOKEN_FILE`` names a file that cannot be read, is not UTF-8 text, or holds nothing but
  white space: a configuration error naming the file (:class:`TokenFileError`). A service refuses to
  start; a client raises when it is created. An empty Secret is a mistake to report, never a request to
  run open (a service) or anonymous (a client).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

TOKEN_ENV = "BIOXEN_API_TOKEN"
TOKEN_FILE_ENV = "BIOXEN_API_TOKEN_FILE"


class TokenFileError(ValueError):
    """The file ``BIOXEN_API_TOKEN_FILE`` names holds no usable token."""


def read_token_file(path: str | Path) -> str:
    """The token in ``path``, surrounding white space removed; :class:`TokenFileError` if there is none."""
    where = f"{TOKEN_FILE_ENV}={str(path)!r}"
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenFileError(f"{where} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"{where} is not UTF-8 text") from None
    if not token:
        raise TokenFileError(f"{where} is empty (or only white space): write the token into it, or unset "
                             f"{TOKEN_FILE_ENV} to use no token")
    return token


def resolve_token(token: str | None = None, token_file: str | Path | None = None) -> str | None:
    """The token the two settings give (the file wins), or None for no token."""
    if token_file:
        return read_token_file(token_file)
    return (token or "").strip() or None


def token_from_env(environ: Mapping[str, str]) -> str | None:
    """:func:`resolve_token` of ``BIOXEN_API_TOKEN`` and ``BIOXEN_API_TOKEN_FILE`` in ``environ``."""
    return resolve_token(environ.get(TOKEN_ENV), environ.get(TOKEN_FILE_ENV))
