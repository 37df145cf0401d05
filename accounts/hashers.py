"""The password hasher: Argon2id with the parameters of RFC 9106's second recommended option."""

from __future__ import annotations

from django.contrib.auth import hashers


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    """Argon2id, 3 passes over 64 MiB in 4 lanes: RFC 9106 §4's second recommended option, the one
    for memory-constrained uses. Django's defaults (2 passes over 100 MiB, 8 lanes) hold 100 MiB in
    the server process for every login, and a worker serves logins next to everything else; these
    take about as long per hash, with 36 MiB less.

    The algorithm's name is Django's ("argon2"), so a hash made with other parameters still
    verifies, and is made again with these at the user's next successful login (`must_update`)."""

    time_cost = 3
    memory_cost = 65536  # KiB
    parallelism = 4
