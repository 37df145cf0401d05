"""Database queries per request, counted in a process of its own against the bench's database.

`python -m bench.probe PATH...` with the server's environment and `BENCH_TOKEN` set: each path is
requested through Django's test client (the same code as under gunicorn) and its queries are
counted. Prints one JSON object: path -> {status, queries, rows}.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pkiserver.settings")
    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from pkiserver.api import pagination

    local_counts = getattr(pagination, "_counts", None)  # a per-process cache, in trees that have one

    client = Client(HTTP_AUTHORIZATION=f"Bearer {os.environ['BENCH_TOKEN']}")
    out = {}
    for path in sys.argv[1:]:
        client.get(path)  # warm: first-request work (content types, caches) is not the list's cost
        # Count the cold request: a large total is counted, not cached.
        cache.clear()
        if local_counts is not None:
            local_counts.clear()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        body = response.json() if response.status_code == 200 else None
        out[path] = {
            "status": response.status_code,
            "queries": len(queries),
            "rows": len(body) if isinstance(body, list) else None,
            "total": response.headers.get("X-Total-Count"),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
