from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand
from communities.services import community_get
from notifications.services import security_contacts_set


def _emails(text: str) -> list[tuple[str, str]]:
    """``a@x.example:en,b@y.example`` → ``[("a@x.example", "en"), ("b@y.example", "pt-br")]``."""
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            address, _colon, language = item.partition(":")
            pairs.append((address, language or "pt-br"))
    return pairs


class Command(ServiceCommand):
    help = gettext_noop(
        "Set a community's security contacts (SPEC §2.10): e-mail addresses with a language, and a webhook. "
        "A new webhook URL gets a new signing secret, printed once. Options not given stay as they are."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        parser.add_argument(
            "--email",
            type=_emails,
            metavar="ADDR[:LANG],…",
            help=gettext_lazy('Addresses (LANG pt-br or en); "" clears.'),
        )
        parser.add_argument(
            "--webhook-url", metavar="URL", help=gettext_lazy("HTTPS URL of the partner's receiver.")
        )
        parser.add_argument("--no-webhook", action="store_true", help=gettext_lazy("Remove the webhook."))
        parser.add_argument(
            "--new-webhook-secret",
            action="store_true",
            help=gettext_lazy("Make a new signing secret for the webhook."),
        )

    def run(self, *, client_id, email, webhook_url, no_webhook, new_webhook_secret, **options):
        if webhook_url is not None and no_webhook:
            raise CommandError("Give --webhook-url or --no-webhook, not both.")
        change = security_contacts_set(
            community=community_get(client_id=client_id),
            actor=Actor.command("set_security_contacts"),
            emails=email,
            webhook_url="" if no_webhook else webhook_url,
            new_webhook_secret=new_webhook_secret,
        )
        contacts = change.contacts
        payload = {
            "client_id": client_id,
            "emails": [f"{entry['address']}:{entry['language']}" for entry in contacts.emails],
            "webhook_url": contacts.webhook_url or None,
        }
        lines = [f"Security contacts of {client_id}:"]
        lines += [f"  {entry}" for entry in payload["emails"]] or ["  (no e-mail address)"]
        lines.append(f"  webhook: {contacts.webhook_url or '(none)'}")
        if change.webhook_secret:
            payload["webhook_secret"] = change.webhook_secret
            lines.append(f"  webhook signing secret (shown once, keep it now): {change.webhook_secret}")
        return payload, self.style.SUCCESS("\n".join(lines))
