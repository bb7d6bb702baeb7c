"""The base of every API view."""

from rest_framework.views import APIView


class NoStoreAPIView(APIView):
    """Credentials and balances must never sit in a cache: every response says ``no-store``."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Pragma"] = "no-cache"
        return response
