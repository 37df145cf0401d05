"""Service-accounts API (`/api/v1/service-accounts`) with its token, policy and ACME binding routes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.actors import acting
from accounts.models import CAPABILITY_FLAGS
from accounts.policy import Action
from acmeserver import services as acme_services
from pkiserver.api.viewsets import PolicyViewSet
from serviceaccounts import services
from serviceaccounts.api.serializers import (
    EabCreatedSerializer,
    EabSerializer,
    PolicySerializer,
    PolicyWriteSerializer,
    ServiceAccountCreateSerializer,
    ServiceAccountSerializer,
    ServiceAccountUpdateSerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
)
from serviceaccounts.models import ServiceAccount


class ServiceAccountViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    queryset = ServiceAccount.objects.all()
    serializer_class = ServiceAccountSerializer
    scope_kind = "service_account"
    policy = {
        "list": Action.SA_LIST,  # rows scoped: superusers see all, admins their organization's
        "create": Action.SA_MANAGE,  # the service checks the organization
        "retrieve": Action.SA_MANAGE,
        "partial_update": Action.SA_MANAGE,
        "destroy": Action.SA_MANAGE,
        "tokens": Action.SA_MANAGE,
        "token": Action.SA_MANAGE,
        "issuance_policy": Action.SA_MANAGE,  # GET, PUT and DELETE /{id}/policy
        "acme_eab": Action.SA_MANAGE,  # GET and POST /{id}/acme-eab
        "acme_eab_revoke": Action.SA_MANAGE,
    }
    object_actions = (
        "create", "retrieve", "partial_update", "destroy", "tokens", "token", "issuance_policy", "acme_eab",
        "acme_eab_revoke",
    )  # fmt: skip

    @extend_schema(request=ServiceAccountCreateSerializer, responses={201: ServiceAccountSerializer})
    def create(self, request: Request) -> Response:
        form = ServiceAccountCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        flags = {name: data.pop(name) for name in CAPABILITY_FLAGS}
        account = services.service_account_create(actor=acting(request.user), flags=flags, **data)
        return Response(ServiceAccountSerializer(account).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ServiceAccountUpdateSerializer, responses=ServiceAccountSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        form = ServiceAccountUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        account = services.service_account_update(
            actor=acting(request.user), account=self.get_object(), data=dict(form.validated_data)
        )
        return Response(ServiceAccountSerializer(account).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.service_account_delete(actor=acting(request.user), account=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], request=None, responses=TokenSerializer(many=True))
    @extend_schema(methods=["POST"], request=TokenCreateSerializer, responses={201: TokenCreatedSerializer})
    @action(detail=True, methods=["get", "post"])
    def tokens(self, request: Request, pk: str) -> Response:
        account = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(account.tokens.order_by("id"))
            return self.get_paginated_response(TokenSerializer(page, many=True).data)
        form = TokenCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        token, plaintext = services.token_create(actor=acting(request.user), account=account, **form.validated_data)
        return Response(
            TokenCreatedSerializer(token, context={"token": plaintext}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"tokens/(?P<token_id>[0-9]+)")
    def token(self, request: Request, pk: str, token_id: str) -> Response:
        services.token_revoke(actor=acting(request.user), account=self.get_object(), token_id=int(token_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], request=None, responses=PolicySerializer)
    @extend_schema(methods=["PUT"], request=PolicyWriteSerializer, responses=PolicySerializer)
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(detail=True, methods=["get", "put", "delete"], url_path="policy")
    def issuance_policy(self, request: Request, pk: str) -> Response:
        account = self.get_object()
        if request.method == "GET":
            return Response(PolicySerializer(services.policy_get(actor=acting(request.user), account=account)).data)
        if request.method == "DELETE":
            services.policy_clear(actor=acting(request.user), account=account)
            return Response(status=status.HTTP_204_NO_CONTENT)
        form = PolicyWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        policy = services.policy_set(actor=acting(request.user), account=account, data=dict(form.validated_data))
        return Response(PolicySerializer(policy).data)

    @extend_schema(methods=["GET"], request=None, responses=EabSerializer(many=True))
    @extend_schema(methods=["POST"], request=None, responses={201: EabCreatedSerializer})
    @action(detail=True, methods=["get", "post"], url_path="acme-eab")
    def acme_eab(self, request: Request, pk: str) -> Response:
        account = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(acme_services.eab_list(actor=acting(request.user), account=account))
            return self.get_paginated_response(EabSerializer(page, many=True).data)
        credential, key = acme_services.eab_create(actor=acting(request.user), account=account)
        return Response(
            EabCreatedSerializer(credential, context={"hmac_key": key}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"acme-eab/(?P<kid>[A-Za-z0-9_-]{1,64})")
    def acme_eab_revoke(self, request: Request, pk: str, kid: str) -> Response:
        acme_services.eab_revoke(actor=acting(request.user), account=self.get_object(), kid=kid)
        return Response(status=status.HTTP_204_NO_CONTENT)
