"""Memory a full CRL build holds, measured in a process of its own against the bench's database.

`python -m bench.crlmem CA_ID WARM_CA_ID` with the server's environment: builds the CRL of CA_ID
from its rows, as the server does when it cannot extend the stored one (`services.crl_from_rows`,
nothing stored), after a build for WARM_CA_ID has loaded the code, the connection and the keys. The
peak resident size during the build, over the resident size before it, is what the build held.
Prints one JSON object: crl_mb, entries, rss_before_mb, held_mb, seconds (the build's).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pkiserver.settings")
    import django

    django.setup()
    from django.utils import timezone

    from certificates import services
    from certificates.models import CertificateAuthority

    ca, warm = (CertificateAuthority.objects.get(pk=int(pk)) for pk in sys.argv[1:3])
    now = timezone.now().replace(microsecond=0)
    services.crl_from_rows(warm, services.crl_header(warm, number=1, now=now))
    header = services.crl_header(ca, number=1, now=now)  # the CA's key is loaded before measuring
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # the peak resident size starts again from here
    before, started = _status_mb("VmRSS"), time.perf_counter()
    der, entries = services.crl_from_rows(ca, header)
    seconds = time.perf_counter() - started
    held = _status_mb("VmHWM") - before
    out = {"crl_mb": len(der) / 2**20, "entries": entries, "rss_before_mb": before, "held_mb": held, "seconds": seconds}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
