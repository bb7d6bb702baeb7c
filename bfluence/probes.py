"""Health probes answered before anything validates the Host header (SPEC §2.8).

Load balancers probe by IP address, and their Host is never one of ALLOWED_HOSTS. Django validates Host
the first time anything asks for it (CommonMiddleware does, on every request), answers 400 and logs a
DisallowedHost traceback at ERROR. This middleware sits first, answers ``GET``/``HEAD`` of exactly
``/healthz`` and ``/readyz`` with their views, and never asks for the host. Every other request, other
methods on these paths included, goes through the normal stack and is validated as before.
"""

from bfluence.health import HealthView, ReadyView

PROBES = {"/healthz": HealthView.as_view(), "/readyz": ReadyView.as_view()}


class HealthProbeMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        view = PROBES.get(request.path_info)
        if view is None or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        response = view(request)
        response.render()  # Django renders only responses that views return through the handler
        return response
