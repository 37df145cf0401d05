"""The X.509 layer stays plain Python: importing it loads neither Django nor settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_importing_the_x509_layer_does_not_import_django() -> None:
    code = (
        "import sys, certificates.x509, certificates.x509.tests.helpers;"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith(('django.', 'rest_framework')));"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_x509_layer_reads_no_clock_and_no_settings() -> None:
    sources = [path for path in (REPO / "certificates" / "x509").glob("*.py")]
    assert len(sources) > 5
    for path in sources:
        source = path.read_text()
        for forbidden in ("django", ".now(", "utcnow", "today(", "time.time", "os.environ", "getenv"):
            assert forbidden not in source, f"{path.name} mentions {forbidden}"
