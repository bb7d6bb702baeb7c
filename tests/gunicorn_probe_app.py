"""The project's WSGI application plus one path whose response body fails half-way, so gunicorn's own
worker-level error path ("Error handling request", with a traceback quoting the URI) runs for real.
Used only by tests/test_gunicorn_logs.py, as ``tests.gunicorn_probe_app:application``."""

from bfluence.wsgi import application as project_application

FAILING_PATH = "/__fail_in_worker__"


def application(environ, start_response):
    if environ.get("PATH_INFO") == FAILING_PATH:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _body_that_fails(environ["RAW_URI"])
    return project_application(environ, start_response)


def _body_that_fails(uri: str):
    yield b"partial"
    raise RuntimeError(f"response body failed for {uri}")
