"""The staff console's middleware, run for the console and never for the partner API.

Sessions, CSRF, staff authentication and messages are what the admin needs; the API authenticates
every call by its Bearer token and never reads a session, a CSRF cookie or a message. Running them on
API calls would be work for nothing (bench/README.md says how much).

``ConsoleMiddleware`` stands in ``MIDDLEWARE`` where those four stood, builds them exactly as Django's
handler would, and runs them — including their view, exception and template-response hooks — for every
path *except* the API's (``settings.API_PATH_PREFIXES``). A path nobody listed gets the full stack: a new
screen can never lose CSRF protection by accident; only a new API path can be slower than it needs.
"""

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.utils.module_loading import import_string


class ConsoleMiddleware:
    sync_capable = True
    async_capable = False

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.api_prefixes = tuple(settings.API_PATH_PREFIXES)
        self.view_hooks, self.template_hooks, self.exception_hooks = [], [], []
        handler = get_response
        for path in reversed(settings.CONSOLE_MIDDLEWARE):  # as django.core.handlers.base.load_middleware
            try:
                middleware = import_string(path)(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(middleware, "process_view"):
                self.view_hooks.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self.template_hooks.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self.exception_hooks.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self.console = handler

    def is_api(self, request) -> bool:
        return request.path_info.startswith(self.api_prefixes)

    def __call__(self, request):
        return self.get_response(request) if self.is_api(request) else self.console(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not self.is_api(request):
            for hook in self.view_hooks:
                if (response := hook(request, view_func, view_args, view_kwargs)) is not None:
                    return response
        return None

    def process_exception(self, request, exception):
        if not self.is_api(request):
            for hook in self.exception_hooks:
                if (response := hook(request, exception)) is not None:
                    return response
        return None

    def process_template_response(self, request, response):
        if not self.is_api(request):
            for hook in self.template_hooks:
                response = hook(request, response)
        return response
