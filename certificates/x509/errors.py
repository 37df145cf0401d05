"""Errors raised by the X.509 layer; each names the request field it concerns."""

from __future__ import annotations


class X509Error(ValueError):
    """Bad input to the X.509 layer. The message is safe to show to API users."""

    code: str = "invalid"
    default_field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field if field is not None else self.default_field

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, field={self.field!r})"


class InvalidSubject(X509Error):
    code = "invalid_subject"
    default_field = "subject_dn"


class InvalidKeySpec(X509Error):
    code = "invalid_key_spec"
    default_field = "key_size"


class InvalidSAN(X509Error):
    code = "invalid_san"


class InvalidCSR(X509Error):
    code = "invalid_csr"
    default_field = "csr"


class InvalidPEM(X509Error):
    code = "invalid_pem"


class InvalidValidity(X509Error):
    code = "invalid_validity"
    default_field = "valid_days"


class InvalidPathLength(X509Error):
    code = "invalid_path_length"
    default_field = "path_length"


class InvalidOCSPRequest(X509Error):
    code = "malformed_ocsp_request"
