"""``POST /security/secret-scanning``: leaked secrets reported by a secret scanner (SPEC §2.9)."""

import json
import logging

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from audit.services import Actor
from bfluence.errors import ApiError, InvalidRequest, RequestTooLarge
from bfluence.source_ip import request_source_ip
from bfluence.views import NoStoreAPIView
from clients.credentials import StrictCharField
from leaks.services import ReportedToken, report_signature_valid, secret_scanning_report
from tokens.schema import ErrorSerializer

_log = logging.getLogger("bfluence.leaks")


class InvalidSignature(ApiError):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "invalid_signature"
    default_detail = _("The report's signature is missing, wrong, or made with a key we do not know.")


class _Item(serializers.Serializer):
    token = StrictCharField(max_length=4096)
    type = StrictCharField(max_length=200)
    url = StrictCharField(max_length=2000, allow_blank=True)
    source = StrictCharField(max_length=200, allow_blank=True)  # type: ignore[assignment]  # GitHub's name


FEEDBACK = inline_serializer(
    "SecretScanningFeedback",
    {
        "token_hash": serializers.CharField(),
        "token_type": serializers.CharField(),
        "label": serializers.ChoiceField(choices=["true_positive", "false_positive"]),
    },
    many=True,
)


class SecretScanningView(NoStoreAPIView):
    """The scanner authenticates by signing the raw body; nothing else is accepted, and an unsigned or
    badly signed report changes nothing. The body is read raw, because the signature covers its bytes."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()
    parser_classes = ()
    http_method_names = ["post"]

    @extend_schema(
        operation_id="security_secret_scanning",
        tags=["security"],
        auth=[],
        request=inline_serializer("SecretScanningReport", {"token": serializers.CharField()}, many=True),
        parameters=[
            OpenApiParameter("Github-Public-Key-Identifier", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("Github-Public-Key-Signature", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={
            200: FEEDBACK,
            400: OpenApiResponse(ErrorSerializer, description="invalid_request"),
            401: OpenApiResponse(ErrorSerializer, description="invalid_signature"),
            413: OpenApiResponse(ErrorSerializer, description="invalid_request (over 1 MiB)"),
        },
        summary=_("Leaked secrets reported by a secret scanner"),
        description=_(
            "GitHub's secret-scanning partner format. A reported secret that is valid is suspended and "
            "every token of its community revoked at once."
        ),
    )
    def post(self, request):
        body = self._raw_body(request)
        signed = report_signature_valid(
            body=body,
            key_identifier=request.headers.get("Github-Public-Key-Identifier", ""),
            signature=request.headers.get("Github-Public-Key-Signature", ""),
        )
        if not signed:
            _log.warning("secret-scanning report refused", extra={"reason": "invalid_signature"})
            raise InvalidSignature()
        tokens = self._tokens(body)
        feedback = secret_scanning_report(
            tokens=tokens, actor=Actor.scanner("github", request_source_ip(request))
        )
        _log.info(
            "secret-scanning report",
            extra={
                "reported": len(feedback),
                "true_positives": sum(item["label"] == "true_positive" for item in feedback),
            },
        )
        return Response(feedback)

    @staticmethod
    def _raw_body(request) -> bytes:
        limit = settings.SECRET_SCANNING_MAX_BODY_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError as error:
            raise InvalidRequest() from error
        if declared > limit:
            raise RequestTooLarge()
        body = request._request.read(limit + 1)
        if len(body) > limit:
            raise RequestTooLarge()
        return body

    @staticmethod
    def _tokens(body: bytes) -> list[ReportedToken]:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise InvalidRequest(_("The JSON body is not valid JSON.")) from error
        if not isinstance(data, list):
            raise InvalidRequest(_("The body must be a JSON array of reported tokens."))
        items = _Item(data=data, many=True)
        if not items.is_valid():
            raise InvalidRequest(_("Each reported token needs token, type, url and source strings."))
        return [ReportedToken(**item) for item in items.validated_data]
