"""Organizations API (`/api/v1/organizations`) with its membership routes."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.actors import acting
from accounts.api.serializers import UserSerializer
from accounts.models import User
from accounts.policy import Action
from orgs import services
from orgs.api.serializers import OrganizationCreateSerializer, OrganizationSerializer, OrganizationUpdateSerializer
from orgs.models import Organization
from pkiserver.api.viewsets import PolicyViewSet


class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    queryset = Organization.objects.all()
    serializer_class = OrganizationSerializer
    scope_kind = "organization"
    policy = {
        "list": Action.ORG_LIST,  # rows scoped: superusers see all, others their own
        "create": Action.ORG_CREATE,
        "retrieve": Action.ORG_VIEW,
        "update": Action.ORG_UPDATE,
        "partial_update": Action.ORG_UPDATE,
        "destroy": Action.ORG_DELETE,
        "members": Action.ORG_VIEW_MEMBERS,
        "member": Action.ORG_MANAGE_MEMBERS,
    }
    object_actions = ("retrieve", "update", "partial_update", "destroy", "members", "member")

    @extend_schema(request=OrganizationCreateSerializer, responses={201: OrganizationSerializer})
    def create(self, request: Request) -> Response:
        form = OrganizationCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        org = services.organization_create(actor=acting(request.user), **form.validated_data)
        return Response(OrganizationSerializer(org).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=OrganizationUpdateSerializer, responses=OrganizationSerializer)
    def update(self, request: Request, pk: str) -> Response:
        org = self.get_object()
        form = OrganizationUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        org = services.organization_update(actor=acting(request.user), org=org, data=dict(form.validated_data))
        return Response(OrganizationSerializer(org).data)

    @extend_schema(request=OrganizationUpdateSerializer, responses=OrganizationSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        services.organization_delete(actor=acting(request.user), org=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=UserSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="users")
    def members(self, request: Request, pk: str) -> Response:
        org = self.get_object()
        page = self.paginate_queryset(User.objects.filter(organization=org).order_by("id"))
        return self.get_paginated_response(UserSerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: UserSerializer})  # DELETE answers the user too, not 204
    @action(detail=True, methods=["post", "delete"], url_path=r"users/(?P<user_id>[0-9]+)")
    def member(self, request: Request, pk: str, user_id: str) -> Response:
        org = self.get_object()
        user = get_object_or_404(User, pk=user_id)
        if request.method == "POST":
            user = services.organization_add_user(actor=acting(request.user), org=org, user=user)
        else:
            user = services.organization_remove_user(actor=acting(request.user), org=org, user=user)
        return Response(UserSerializer(user).data)
