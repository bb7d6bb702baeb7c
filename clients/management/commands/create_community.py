from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand, duration_argument
from clients.services import community_create

SECRET_WARNING = gettext_lazy("Store it now in the partner's secret store: it is shown once and never again.")


def permission_list(text: str) -> list[str]:
    return [code.strip() for code in text.split(",") if code.strip()]


class Command(ServiceCommand):
    help = gettext_noop("Onboard a partner community and print its first client secret (shown once).")

    def add_command_arguments(self, parser) -> None:
        parser.add_argument(
            "--client-id", required=True, help=gettext_lazy("Public identifier, e.g. acme-hub.")
        )
        parser.add_argument("--name", required=True, help=gettext_lazy("Display name."))
        parser.add_argument(
            "--permissions",
            type=permission_list,
            default=[],
            help=gettext_lazy(
                "Comma-separated codes from the catalogue, e.g. bflus:read,bflus:write. "
                "Without it the community has none, and its tokens can call nothing."
            ),
        )
        parser.add_argument(
            "--token-lifetime",
            type=duration_argument,
            default=None,
            help=gettext_lazy("A lifetime shorter than the default, e.g. 1h."),
        )

    def run(self, *, client_id, name, permissions, token_lifetime, **options):
        created = community_create(
            client_id=client_id,
            name=name,
            permissions=permissions,
            token_lifetime=token_lifetime,
            actor=Actor.command("create_community"),
        )
        community = created.community
        if not community.permissions:
            self.stderr.write(
                self.style.WARNING(
                    _(
                        "Warning: %(client_id)s has no permissions, so its tokens will be able to do nothing. Grant "
                        "some in the staff console (or onboard again with --permissions, e.g. bflus:read)."
                    )
                    % {"client_id": community.client_id}
                )
            )
        payload = {
            "client_id": community.client_id,
            "client_secret": created.client_secret,
            "permissions": community.permissions,
        }
        text = "\n".join(
            [
                self.style.SUCCESS(_("Community %(name)r created.") % {"name": community.name}),
                f"client_id:     {community.client_id}",
                f"client_secret: {created.client_secret}",
                _("permissions:   %(permissions)s")
                % {"permissions": ", ".join(community.permissions) or _("(none)")},
                self.style.WARNING(str(SECRET_WARNING)),
            ]
        )
        return payload, text
