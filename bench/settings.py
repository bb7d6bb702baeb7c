"""The project's production settings, plus the bench twin's route: for bench/run.py only.

``manage.py check --deploy`` refuses these settings (bfluence.E001): the twin serves member balances
without authentication.
"""

from bfluence.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# The twin is an API path: the same lean stack as get-bflus.
API_PATH_PREFIXES = [*API_PATH_PREFIXES, "/bench/"]  # noqa: F405
