"""ACME errors (RFC 8555 §6.7): RFC 7807 problem documents with urn:ietf:params:acme:error types."""

from __future__ import annotations

PREFIX = "urn:ietf:params:acme:error:"


class AcmeProblem(Exception):
    """Raised anywhere in a request; answered as `application/problem+json`."""

    def __init__(self, kind: str, detail: str, status: int = 400, location: str | None = None) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.status, self.location = kind, detail, status, location

    def as_json(self) -> dict[str, object]:
        return {"type": PREFIX + self.kind, "detail": self.detail, "status": self.status}


def malformed(detail: str) -> AcmeProblem:
    return AcmeProblem("malformed", detail)


def unauthorized(detail: str) -> AcmeProblem:
    return AcmeProblem("unauthorized", detail, 403)
