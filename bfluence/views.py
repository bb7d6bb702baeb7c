"""The base of every API view."""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.views import APIView

from bfluence.errors import LengthRequired

# What partners' HTTP clients send (curl, requests, httpx, Java, Go): each answered by the JSON renderer.
_PLAIN_ACCEPTS = frozenset({"*/*", "application/json"})


class JSONFirstNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, short-cut for the ``Accept`` headers partners send.

    The API has one renderer (JSON). For no ``Accept``, ``*/*`` or ``application/json`` DRF's answer is
    always that renderer, so it is given at once. Anything else (``text/html``, parameters, ``?format=``)
    goes through DRF's negotiation, 406 included.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            len(renderers) == 1
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT", "*/*") in _PLAIN_ACCEPTS
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class NoStoreAPIView(APIView):
    """Credentials and balances must never sit in a cache: every response says ``no-store``."""

    content_negotiation_class = JSONFirstNegotiation

    def initial(self, request, *args, **kwargs) -> None:
        refuse_unframed_body(request)
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response


def refuse_unframed_body(request) -> None:
    """A chunked body reaches Django without ``CONTENT_LENGTH``, and Django reads it as empty: the
    partner would be told its fields are missing. Say what is wrong instead (411). Behind the nginx of
    deploy/ this never happens: nginx buffers the body and sends its length."""
    meta = request.META
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower() and not meta.get("CONTENT_LENGTH"):
        raise LengthRequired()


def issuer_url(request) -> str:
    """Our base URL as the caller reaches us (scheme and host, validated against ALLOWED_HOSTS)."""
    return request.build_absolute_uri("/").rstrip("/")
