import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand
from clients.services import client_key_add
from communities.services import community_get


class Command(ServiceCommand):
    help = gettext_noop(
        "Register a partner public key for private_key_jwt (PEM or JWK; ES256, RS256/PS256, EdDSA). "
        "kid: the JWK's own, else its RFC 7638 thumbprint."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        parser.add_argument(
            "--public-key",
            required=True,
            metavar="FILE",
            help=gettext_lazy("File with the public key (PEM or JWK JSON); '-' reads standard input."),
        )

    def run(self, *, client_id, public_key, **options):
        community = community_get(client_id=client_id)
        try:
            if public_key == "-":
                text = sys.stdin.read(64 * 1024)
            else:
                with open(public_key, encoding="utf-8") as file:
                    text = file.read(64 * 1024)
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(
                _("Cannot read %(file)s: %(error)s") % {"file": public_key, "error": error.__class__.__name__}
            ) from error
        key = client_key_add(community=community, key_text=text, actor=Actor.command("add_client_key"))
        payload = {"client_id": client_id, "kid": key.kid, "thumbprint": key.thumbprint}
        text = "\n".join(
            [
                self.style.SUCCESS(_("Key registered for %(client_id)s:") % {"client_id": client_id}),
                f"kid: {key.kid}",
                _("thumbprint (RFC 7638, SHA-256): %(thumbprint)s") % {"thumbprint": key.thumbprint},
                _("Check the thumbprint with the partner before relying on the key."),
            ]
        )
        return payload, text
