"""Work done once when a server process starts: private keys at rest are checked (SPEC §11)."""

from __future__ import annotations

import sys

from django.db import DatabaseError

from certificates import keystore


def on_start() -> None:
    """Encrypt plaintext keys, and stop the process when the configured key cannot read the rest."""
    try:
        keystore.startup()
    except keystore.KeyDecryptionError as exc:
        sys.stderr.write(f"pkiserver cannot start: {exc}\n")
        raise SystemExit(3) from None
    except DatabaseError as exc:  # the database may come later; /readyz reports it
        sys.stderr.write(f"pkiserver: key check skipped, database unavailable ({exc})\n")
