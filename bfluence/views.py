"""The base of every API view."""

from rest_framework.views import APIView

from bfluence.errors import LengthRequired


class NoStoreAPIView(APIView):
    """Credentials and balances must never sit in a cache: every response says ``no-store``."""

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
