"""Users API (`/api/v1/users`) and Auth API (`/api/v1/auth`)."""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts import services
from accounts.actors import acting
from accounts.api.serializers import (
    LoginSerializer,
    RefreshSerializer,
    TokenPairSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)
from accounts.models import CAPABILITY_FLAGS, User
from accounts.policy import Action
from accounts.throttling import LoginAddressThrottle, LoginUsernameThrottle, RegistrationThrottle
from accounts.tokens import session_refresh, session_revoke, sessions_revoke_all
from pkiserver.api.parsers import JSONParser
from pkiserver.api.permissions import HumanOnly
from pkiserver.api.viewsets import PolicyViewSet


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PolicyViewSet):
    queryset = User.objects.all()
    serializer_class = UserSerializer
    scope_kind = "user"
    policy = {
        "list": Action.USER_LIST,
        "create": Action.USER_CREATE_OR_BOOTSTRAP,  # the service then decides: first user or USER_CREATE
        "me": Action.USER_VIEW,
        "retrieve": Action.USER_VIEW,
        "partial_update": Action.USER_EDIT_PROFILE,  # per-field checks in user_update
        "update": Action.USER_EDIT_PROFILE,
        "destroy": Action.USER_DELETE,
    }
    object_actions = ("me", "retrieve", "partial_update", "update", "destroy")

    def get_throttles(self) -> list[BaseThrottle]:
        # Anonymous registration is throttled per address (SPEC §1); the throttle lets logged-in callers by.
        return [RegistrationThrottle()] if self.action == "create" else super().get_throttles()

    @extend_schema(
        request=UserCreateSerializer,
        responses={
            201: UserSerializer,
            429: OpenApiResponse(
                response={"$ref": "#/components/schemas/Error"},
                description="Too many anonymous registrations from this address; retry after `Retry-After` seconds.",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        form = UserCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        flags = {name: data.pop(name) for name in CAPABILITY_FLAGS}
        user = services.user_create(actor=request.user, flags=flags, **data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=UserSerializer)
    @action(detail=False, methods=["get"])
    def me(self, request: Request) -> Response:
        self.check_object_permissions(request, request.user)
        return Response(UserSerializer(request.user).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        user = self.get_object()  # may edit this user at all; the service then decides field by field
        form = UserUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        user = services.user_update(actor=acting(request.user), user=user, data=dict(form.validated_data))
        return Response(UserSerializer(user).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        services.user_delete(actor=acting(request.user), user=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class BearerChallengeView(APIView):
    """A 401 from these views carries `WWW-Authenticate: Bearer`, whatever raised it.

    DRF adds the challenge only to its own authentication exceptions; `LoginFailed` and
    `TokenRejected` are domain errors and would otherwise go out without it.
    """

    def get_authenticate_header(self, request: Request) -> str:
        return "Bearer"

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_401_UNAUTHORIZED:
            response["WWW-Authenticate"] = self.get_authenticate_header(self.request)
        return response


class TokenView(BearerChallengeView):
    """`POST /auth/token`: form-encoded username and password (OAuth2 password flow)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, JSONParser]
    throttle_classes = [LoginAddressThrottle, LoginUsernameThrottle]

    @extend_schema(request={"application/x-www-form-urlencoded": LoginSerializer}, responses=TokenPairSerializer)
    def post(self, request: Request) -> Response:
        form = LoginSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        pair = services.user_login(request=request._request, **form.validated_data)
        return Response(asdict(pair))


class RefreshView(BearerChallengeView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RefreshSerializer, responses=TokenPairSerializer)
    def post(self, request: Request) -> Response:
        form = RefreshSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        return Response(asdict(session_refresh(raw_refresh_token=form.validated_data["refresh_token"])))


class LogoutView(APIView):
    permission_classes = [IsAuthenticated, HumanOnly]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated and HumanOnly: a user, not a service account
        session_revoke(sid=user.auth_session_sid, reason="logout")
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvalidateView(APIView):
    permission_classes = [IsAuthenticated, HumanOnly]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        user = request.user
        assert isinstance(user, User)  # IsAuthenticated and HumanOnly: a user, not a service account
        sessions_revoke_all(user=user, reason="invalidate")
        return Response(status=status.HTTP_204_NO_CONTENT)
