"""CA and certificate models (see the PKI core work)."""
