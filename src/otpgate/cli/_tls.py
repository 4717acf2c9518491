"""``otpgate serve --certfile/--keyfile``: HTTPS without a reverse proxy.

The pair is loaded once here, before the server starts, so a wrong path, a key that
does not match the certificate or an encrypted key is a one-line error at start-up
instead of a traceback from inside uvicorn (or a passphrase prompt nobody answers).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from otpgate.cli._errors import EXIT_CONFIG, CliError

__all__ = ["tls_options"]


def _no_passphrase() -> bytes:
    raise CliError("the key file is encrypted: give otpgate an unencrypted key (mode 0600)",
                   EXIT_CONFIG)


def tls_options(certfile: Path | None, keyfile: Path | None) -> dict[str, Any]:
    """uvicorn's TLS options for the pair, or {} for plain HTTP; a CliError if unusable."""
    if certfile is None and keyfile is None:
        return {}
    if certfile is None or keyfile is None:
        raise CliError("--certfile and --keyfile go together")
    for path in (certfile, keyfile):
        if not path.is_file():
            raise CliError(f"{path}: no such file", EXIT_CONFIG)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_passphrase)
    except PermissionError as exc:
        raise CliError(f"cannot read {exc.filename}: permission denied", EXIT_CONFIG) from None
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        raise CliError(f"cannot use {certfile} with {keyfile}: {reason}", EXIT_CONFIG) from None
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}
