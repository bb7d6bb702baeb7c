from datetime import timedelta

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from audit.services import Actor
from bfluence.commands import ServiceCommand, duration_argument
from clients.services import secret_grace_window_end
from communities.services import community_get
from tokens.services import community_rotate_secret

SECRET_WARNING = gettext_lazy("Hand it to the partner now: it is shown once and never again.")


class Command(ServiceCommand):
    help = gettext_noop(
        "Issue a new client secret; the old one keeps working for --grace, at most 7d. The default is 0 "
        "(the old secret stops now), the safe choice when a secret has leaked; the console's rotate form "
        "proposes 24h instead, because staff there mostly do planned rotations, where the partner needs "
        "time to switch."
    )

    def add_command_arguments(self, parser) -> None:
        parser.add_argument("client_id", help=gettext_lazy("The community's client_id."))
        parser.add_argument(
            "--grace",
            type=duration_argument,
            default=timedelta(0),
            help=gettext_lazy(
                "How long the previous secret keeps working, e.g. 24h (max 7d). Default 0: it stops now "
                "(the console proposes 24h, for planned rotations)."
            ),
        )
        parser.add_argument(
            "--revoke-tokens", action="store_true", help=gettext_lazy("Also revoke every live token now.")
        )
        parser.add_argument("--reason", default="", help=gettext_lazy("Why, for the audit trail."))

    def run(self, *, client_id, grace, revoke_tokens, reason, **options):
        community = community_get(client_id=client_id)
        # Inside an earlier rotation's grace window two secrets work; a new one stops the older of them at
        # once (a community never holds more than two). The partner may still be using it: say so.
        grace_end = secret_grace_window_end(community=community)
        rotation = community_rotate_secret(
            community=community,
            grace=grace,
            revoke_tokens=revoke_tokens,
            reason=reason,
            actor=Actor.command("rotate_secret"),
        )
        valid_until = rotation.previous_secret_valid_until
        if rotation.older_secrets_stopped:
            self.stderr.write(
                self.style.WARNING(
                    _(
                        "An earlier grace window was still open: the secret that was to work until %(until)s stopped "
                        "working now. Only the secret just replaced keeps a grace window."
                    )
                    % {"until": grace_end.isoformat() if grace_end else "?"}
                )
            )
        payload = {
            "client_id": client_id,
            "client_secret": rotation.client_secret,
            "previous_secret_valid_until": valid_until.isoformat() if valid_until else None,
            "tokens_revoked": rotation.tokens_revoked,
        }
        text = "\n".join(
            [
                self.style.SUCCESS(_("New secret for %(client_id)s:") % {"client_id": client_id}),
                f"client_secret: {rotation.client_secret}",
                _("previous secret valid until: %(until)s")
                % {"until": valid_until.isoformat() if valid_until else _("(none)")},
                _("tokens revoked: %(count)s") % {"count": rotation.tokens_revoked},
                self.style.WARNING(str(SECRET_WARNING)),
            ]
        )
        return payload, text
