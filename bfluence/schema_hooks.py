"""drf-spectacular hooks: document each API path once, as partners should call it."""


def canonical_paths_only(endpoints, **kwargs):
    """Drop the trailing-slash aliases (accepted, never advertised) and the schema/docs views themselves."""
    return [
        (path, path_regex, method, callback)
        for path, path_regex, method, callback in endpoints
        if not path.endswith("/") and not path.startswith("/api/")
    ]
