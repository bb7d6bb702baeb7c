"""Words of the command line that are not ours, so that ``makemessages`` keeps them in our catalogue and
every management command speaks one language (bfluence/commands.py).

- Django's own options of every command (django/core/management/base.py), looked up by their text when
  the parser is made;
- argparse's own words: argparse translates them with gettext's default domain, which a command run
  points at our catalogue (Python's argparse HOWTO, "How to translate the argparse output").

The texts must stay exactly as Django and argparse write them; ``tests/test_command_language.py`` proves
they are found.
"""

from django.utils.translation import gettext_noop

DJANGO_OPTIONS = [
    gettext_noop("Show program's version number and exit."),
    gettext_noop(
        "Verbosity level; 0=minimal output, 1=normal output, 2=verbose output, 3=very verbose output"
    ),
    gettext_noop(
        'The Python path to a settings module, e.g. "myproject.settings.main". If this isn\'t provided, the '
        "DJANGO_SETTINGS_MODULE environment variable will be used."
    ),
    gettext_noop('A directory to add to the Python path, e.g. "/home/djangoprojects/myproject".'),
    gettext_noop("Display a full stack trace on CommandError exceptions."),
    gettext_noop("Don't colorize the command output."),
    gettext_noop("Force colorization of the command output."),
    gettext_noop("Skip system checks."),
]

ARGPARSE = [
    gettext_noop("usage: "),
    gettext_noop("positional arguments"),
    gettext_noop("options"),
    gettext_noop("show this help message and exit"),
    gettext_noop("%(prog)s: error: %(message)s\n"),
    gettext_noop("argument %(argument_name)s: %(message)s"),
    gettext_noop("the following arguments are required: %s"),
    gettext_noop("unrecognized arguments: %s"),
    gettext_noop("one of the arguments %s is required"),
    gettext_noop("not allowed with argument %s"),
    gettext_noop("expected one argument"),
    gettext_noop("expected at most one argument"),
    gettext_noop("expected at least one argument"),
    gettext_noop("ambiguous option: %(option)s could match %(matches)s"),
    gettext_noop("invalid %(type)s value: %(value)r"),
    gettext_noop("invalid choice: %(value)r (choose from %(choices)s)"),
    gettext_noop("ignored explicit argument %r"),
]
