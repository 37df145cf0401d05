"""CA, certificate and export APIs (`/api/v1/cas`, `/certificates`, `/export`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.actors import acting
from accounts.policy import Action
from certificates import services
from certificates.api.filters import CertificateFilter
from certificates.api.serializers import (
    CACreateSerializer,
    CASerializer,
    CAUpdateSerializer,
    CAWithKeySerializer,
    CertificateCreateSerializer,
    CertificateSerializer,
    CertificateWithKeySerializer,
    Pkcs12Serializer,
    RenewSerializer,
    RevokeSerializer,
    SignCSRSerializer,
)
from certificates.downloads import pem_download
from certificates.models import Certificate, CertificateAuthority
from pkiserver.api.viewsets import PolicyViewSet
from pkiserver.errors import Invalid


def request_base(request: Request) -> str:
    """Scheme and host of the request (the host is checked against ALLOWED_HOSTS)."""
    return request.build_absolute_uri("/").rstrip("/")


class CAViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    queryset = CertificateAuthority.objects.all()
    serializer_class = CASerializer
    scope_kind = "ca"
    policy = {
        "list": Action.CA_LIST,
        "create": Action.CA_CREATE,  # the service checks the organization and the parent
        "retrieve": Action.CA_VIEW,
        "partial_update": Action.CA_UPDATE,
        "destroy": Action.CA_DELETE,
        "chain": Action.CA_VIEW,
        "children": Action.CA_VIEW,
        "private_key": Action.CA_EXPORT_KEY,
        "revoke": Action.CA_REVOKE,
    }
    object_actions = ("create", "retrieve", "partial_update", "destroy", "chain", "children", "private_key", "revoke")

    @extend_schema(
        request=CACreateSerializer,
        responses={201: CAWithKeySerializer},
        examples=[
            OpenApiExample(
                "Root CA (ECDSA P-256)",
                request_only=True,
                value={"name": "Example Root CA", "subject_dn": "CN=Example Root CA,O=Example,C=US",
                       "key_algorithm": "ecdsa", "key_size": 256, "valid_days": 3650},
            )
        ],
    )  # fmt: skip
    def create(self, request: Request) -> Response:
        form = CACreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        issued = services.ca_create(
            actor=acting(request.user),
            data=services.CARequest(**form.validated_data),
            request_base=request_base(request),
        )
        context = {"private_key": issued.private_key, "warnings": issued.warnings}
        return Response(CAWithKeySerializer(issued.obj, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CAUpdateSerializer, responses=CASerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        ca = self.get_object()
        form = CAUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ca = services.ca_update(actor=acting(request.user), ca=ca, changes=dict(form.validated_data))
        return Response(CASerializer(ca).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.ca_delete(actor=acting(request.user), ca=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=CASerializer(many=True))
    @action(detail=True, methods=["get"])
    def chain(self, request: Request, pk: str) -> Response:
        return Response(CASerializer(services.ca_chain(self.get_object()), many=True).data)

    @extend_schema(responses=CASerializer(many=True))
    @action(detail=True, methods=["get"])
    def children(self, request: Request, pk: str) -> Response:
        ca = self.get_object()
        return Response(CASerializer(ca.children.order_by("id"), many=True).data)

    @extend_schema(request=RevokeSerializer, responses=CASerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        ca = self.get_object()
        form = RevokeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        ca = services.ca_revoke(actor=acting(request.user), ca=ca, reason=form.validated_data.get("reason"))
        return Response(CASerializer(ca).data)

    @extend_schema(responses=CAWithKeySerializer)
    @action(detail=True, methods=["get"], url_path="private-key")
    def private_key(self, request: Request, pk: str) -> Response:
        ca = self.get_object()
        key = services.ca_private_key(actor=acting(request.user), ca=ca)
        return Response(CAWithKeySerializer(ca, context={"private_key": key}).data)


class CertificateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    queryset = Certificate.objects.order_by("id")
    serializer_class = CertificateSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = CertificateFilter
    scope_kind = "certificate"
    policy = {
        "list": Action.CERT_LIST,
        "create": Action.CERT_CREATE,  # the service checks the issuing CA
        "sign_csr": Action.CERT_CREATE,
        "retrieve": Action.CERT_VIEW,
        "revoke": Action.CERT_REVOKE,
        "renew": Action.CERT_CREATE,  # the service checks the issuing CA
        "private_key": Action.CERT_EXPORT_KEY,
    }
    object_actions = ("create", "sign_csr", "retrieve", "revoke", "renew", "private_key")

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "now": timezone.now()}

    def get_queryset(self) -> QuerySet[Certificate]:
        queryset = super().get_queryset()
        return queryset.select_related("issuer") if self.action == "renew" else queryset

    def get_issuer(self, *, ca_id: int | None, ca_name: str | None = None) -> CertificateAuthority:
        """The CA a new certificate is issued under, by id or by name, with the policy asked on it."""
        if ca_id is not None:
            ca = services.ca_by_pk(ca_id)
        else:
            ca = services.ca_by_name(actor=acting(self.request.user), name=ca_name or "")
        self.check_object_permissions(self.request, ca)
        return ca

    def _issued(self, issued: services.Issued) -> Response:
        context = {"private_key": issued.private_key, "warnings": issued.warnings, "now": timezone.now()}
        return Response(CertificateWithKeySerializer(issued.obj, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[OpenApiParameter("ca_id", int, required=True)],
        request=CertificateCreateSerializer,
        responses={201: CertificateWithKeySerializer},
        examples=[
            OpenApiExample(
                "Server certificate (ECDSA P-256)",
                request_only=True,
                value={"common_name": "www.example.com", "subject_dn": "CN=www.example.com,O=Example",
                       "certificate_type": "server", "key_algorithm": "ecdsa", "key_size": 256, "valid_days": 90,
                       "san_dns_names": ["www.example.com"]},
            )
        ],
    )  # fmt: skip
    def create(self, request: Request) -> Response:
        ca_id = request.query_params.get("ca_id")
        if not ca_id or not ca_id.isascii() or not ca_id.isdigit():  # "²".isdigit() is true, int("²") fails
            raise Invalid("The ca_id query parameter is required (an integer).", field="ca_id")
        ca = self.get_issuer(ca_id=int(ca_id))
        form = CertificateCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = _cert_request(form.validated_data)
        return self._issued(
            services.certificate_issue(actor=acting(request.user), ca=ca, data=data, request_base=request_base(request))
        )

    @extend_schema(request=SignCSRSerializer, responses={201: CertificateWithKeySerializer})
    @action(detail=False, methods=["post"], url_path="sign-csr")
    def sign_csr(self, request: Request) -> Response:
        form = SignCSRSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        csr, ca_id, ca_name = data.pop("csr"), data.pop("ca_id", None), data.pop("ca_name", None)
        ca = self.get_issuer(ca_id=ca_id, ca_name=ca_name)
        return self._issued(
            services.certificate_sign_csr(
                actor=acting(request.user),
                ca=ca,
                csr_pem=csr,
                data=_cert_request(data),
                request_base=request_base(request),
            )
        )

    @extend_schema(request=RevokeSerializer, responses=CertificateSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        cert = self.get_object()
        form = RevokeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        cert = services.certificate_revoke(
            actor=acting(request.user), cert=cert, reason=form.validated_data.get("reason")
        )
        return Response(self.get_serializer(cert).data)

    @extend_schema(request=RenewSerializer, responses={201: CertificateWithKeySerializer})
    @action(detail=True, methods=["post"])
    def renew(self, request: Request, pk: str) -> Response:
        cert = self.get_object()
        form = RenewSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        issued = services.certificate_renew(
            actor=acting(request.user),
            cert=cert,
            csr_pem=form.validated_data.get("csr"),
            request_base=request_base(request),
        )
        return self._issued(issued)

    @extend_schema(responses=CertificateWithKeySerializer)
    @action(detail=True, methods=["get"], url_path="private-key")
    def private_key(self, request: Request, pk: str) -> Response:
        cert = self.get_object()
        key = services.certificate_private_key(actor=acting(request.user), cert=cert)
        return Response(CertificateWithKeySerializer(cert, context={"private_key": key, "now": timezone.now()}).data)


def _cert_request(data: dict[str, Any]) -> services.CertRequest:
    for name in ("san_dns_names", "san_ip_addresses", "san_email_addresses"):
        if data.get(name) is not None:
            data[name] = tuple(data[name])
    return services.CertRequest(**data)


class CAExportViewSet(PolicyViewSet):
    """`/export/ca/{id}/certificate` and `/export/ca/{id}/private-key`."""

    queryset = CertificateAuthority.objects.all()
    serializer_class = serializers.Serializer
    policy = {"certificate": Action.CA_VIEW, "private_key": Action.CA_EXPORT_KEY}
    object_actions = ("certificate", "private_key")

    @extend_schema(responses={(200, "application/x-pem-file"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def certificate(self, request: Request, pk: str) -> HttpResponse:
        ca = self.get_object()
        return pem_download(ca.certificate, f"ca_{ca.pk}_certificate.pem")

    @extend_schema(responses={(200, "application/x-pem-file"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="private-key")
    def private_key(self, request: Request, pk: str) -> HttpResponse:
        ca = self.get_object()
        return pem_download(services.ca_private_key(actor=acting(request.user), ca=ca), f"ca_{ca.pk}_private_key.pem")


class CertificateExportViewSet(PolicyViewSet):
    """`/export/certificate/{id}` and its `private-key`, `chain` and `pkcs12` downloads."""

    queryset = Certificate.objects.select_related("issuer")
    serializer_class = serializers.Serializer
    policy = {
        "retrieve": Action.CERT_VIEW,
        "chain": Action.CERT_VIEW,
        "private_key": Action.CERT_EXPORT_KEY,
        "pkcs12": Action.CERT_EXPORT_KEY,
    }
    object_actions = ("retrieve", "chain", "private_key", "pkcs12")

    @extend_schema(responses={(200, "application/x-pem-file"): OpenApiTypes.STR})
    def retrieve(self, request: Request, pk: str) -> HttpResponse:
        cert = self.get_object()
        return pem_download(cert.certificate, f"certificate_{cert.pk}.pem")

    @extend_schema(responses={(200, "application/x-pem-file"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def chain(self, request: Request, pk: str) -> HttpResponse:
        cert = self.get_object()
        return pem_download(services.certificate_chain_pem(cert), f"certificate_{cert.pk}_chain.pem")

    @extend_schema(responses={(200, "application/x-pem-file"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="private-key")
    def private_key(self, request: Request, pk: str) -> HttpResponse:
        cert = self.get_object()
        key = services.certificate_private_key(actor=acting(request.user), cert=cert)
        return pem_download(key, f"certificate_{cert.pk}_private_key.pem")

    @extend_schema(
        methods=["GET"],
        parameters=[
            OpenApiParameter(
                "password", str, description="Password protecting the PKCS#12 file (at most 1024 characters)"
            )
        ],
        responses={(200, "application/x-pkcs12"): OpenApiTypes.BINARY},
        description="Prefer POST: a password in the URL ends up in access logs and browser history.",
    )
    @extend_schema(
        methods=["POST"],
        request=Pkcs12Serializer,
        responses={(200, "application/x-pkcs12"): OpenApiTypes.BINARY},
        description="The same PKCS#12 file, with the password in the JSON body instead of the URL.",
    )
    @action(detail=True, methods=["get", "post"])
    def pkcs12(self, request: Request, pk: str) -> HttpResponse:
        cert = self.get_object()
        form = Pkcs12Serializer(data=request.data if request.method == "POST" else request.query_params)
        form.is_valid(raise_exception=True)
        password = form.validated_data.get("password")
        blob = services.certificate_pkcs12(actor=acting(request.user), cert=cert, password=password)
        return pem_download(blob, f"certificate_{cert.pk}.p12", content_type="application/x-pkcs12")
