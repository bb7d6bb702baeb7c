"""The OpenAPI document and the interactive docs, in the language asked for.

drf-spectacular already translates the document for ``?lang=en``, but the response still said
``Content-Language: pt-br`` (LocaleMiddleware reads only ``Accept-Language``). These views answer in the
language of ``?lang=`` when it is one we speak, and say so in ``Content-Language``.
"""

from django.utils import translation
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.response import Response
from rest_framework.views import APIView

# The generated document per language. It never changes while the process runs, and generating it cost
# 80-200 ms of a worker for every anonymous request: a cheap way to tie up every worker.
_schemas: dict[str, dict] = {}


def requested_language(request) -> str | None:
    """``?lang=`` as one of settings.LANGUAGES (``en`` → ``en``, ``pt-BR`` → ``pt-br``), else None."""
    lang = request.GET.get("lang", "")
    try:
        return translation.get_supported_language_variant(lang.lower()) if lang else None
    except LookupError:
        return None


class _AnswersInRequestedLanguage(APIView):
    # Read-only pages. OPTIONS reached DRF's metadata answer, which the docs page's HTML renderer could
    # not render: a 500 for anyone who asked.
    http_method_names = ["get", "head"]

    def dispatch(self, request, *args, **kwargs):
        lang = requested_language(request)
        if lang is None:
            if "lang" in request.GET:  # one we do not speak: answer in the negotiated language, as without it
                query = request.GET.copy()
                del query["lang"]
                request.GET = query
            return super().dispatch(request, *args, **kwargs)
        query = request.GET.copy()
        query["lang"] = lang  # drf-spectacular reads it again: give it the normalised code
        request.GET = query
        with translation.override(lang):
            request.LANGUAGE_CODE = lang
            response = super().dispatch(request, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()  # lazy texts become strings while the language is still active
        response["Content-Language"] = lang
        return response


class SchemaView(_AnswersInRequestedLanguage, SpectacularAPIView):
    """``GET /api/schema/``: the OpenAPI 3 document."""

    def _get_version_parameter(self, request):
        # One published version. drf-spectacular would copy ``?version=`` into the document and into
        # ``Content-Disposition``, where a NUL or newline made gunicorn answer 500.
        return None

    def _get_schema_response(self, request):
        language = translation.get_language()  # one of settings.LANGUAGES: unknown ?lang= is dropped above
        if language not in _schemas:
            _schemas[language] = super()._get_schema_response(request).data
        filename = self._get_filename(request, None)
        return Response(
            data=_schemas[language], headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )


class DocsView(_AnswersInRequestedLanguage, SpectacularSwaggerView):
    """``GET /api/docs/``: Swagger UI, loading the document in the same language."""

    template_name = "bfluence/swagger_ui.html"  # its inline script and style carry the CSP nonce
