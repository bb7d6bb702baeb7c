"""An audit row's details as staff read them: labels in their language, dates in their zone, "—" for
nothing, durations in words; the raw JSON stays one click away (a <details> toggle)."""

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from rest_framework.settings import api_settings

from audit.selectors import outsider_refusals_count
from clients.models import ClientKey, ClientSecret
from console.forms import console_time
from console.humane import duration, staff_name
from console.usage import community_usage, outsider_refusals_counted

LABELS = {
    "reason": gettext_lazy("reason"),
    "method": gettext_lazy("method"),
    "methods": gettext_lazy("methods"),
    "hint": gettext_lazy("secret (start)"),
    "ended_hints": gettext_lazy("secrets ended now"),
    "ended_suspended_hints": gettext_lazy("secrets suspended by the request, ended for good"),
    "grace_seconds": gettext_lazy("grace window"),
    "tokens_revoked": gettext_lazy("tokens revoked"),
    "secrets_suspended": gettext_lazy("secrets suspended"),
    "secrets_stopped": gettext_lazy("secrets ended"),
    "kid": gettext_lazy("key ID (kid)"),
    "thumbprint": gettext_lazy("fingerprint"),
    "key_type": gettext_lazy("key type"),
    "active_keys_left": gettext_lazy("active keys left"),
    "client_key_id": gettext_lazy("key"),
    "permissions": gettext_lazy("permissions"),
    "name": gettext_lazy("name"),
    "token_lifetime": gettext_lazy("token lifetime"),
    "scope": gettext_lazy("scope"),
    "expires_in": gettext_lazy("valid for"),
    "jti": gettext_lazy("token ID (jti)"),
    "dpop_jkt": gettext_lazy("DPoP key"),
    "dpop": "DPoP",
    "allowed_ips": gettext_lazy("allowed source IPs"),
    "allowlist_applies_to_api": gettext_lazy("allowlist also for API calls"),
    "before": gettext_lazy("before"),
    "after": gettext_lazy("after"),
    "from": gettext_lazy("from"),
    "to": gettext_lazy("to"),
    "member": gettext_lazy("member"),
    "bflus": gettext_lazy("bflus"),
    "previous": gettext_lazy("previous"),
    "request_id": gettext_lazy("request"),
    "id": gettext_lazy("secret"),
    "count": gettext_lazy("count"),
    "deleted": gettext_lazy("deleted"),
    "older_than_seconds": gettext_lazy("older than"),
    "failures": gettext_lazy("failures"),
    "lockout_minutes": gettext_lazy("blocked for (minutes)"),
    "locked_for_seconds": gettext_lazy("blocked for"),
    "account_known": gettext_lazy("account exists"),
    "outcome": gettext_lazy("outcome"),
    "client_id": gettext_lazy("client ID"),
    "ip": gettext_lazy("IP address"),
    "title": gettext_lazy("title"),
    "revoked": gettext_lazy("tokens revoked"),  # a count, as "tokens_revoked" elsewhere
    "secret_id": gettext_lazy("new secret"),
    # Every secret the action changed, with until when it works now: a rotation lists the one that keeps
    # its grace window as well as those it ended ("ended_hints"); a revocation request, those it suspended.
    "secrets_ended": gettext_lazy("secrets affected (until when each works)"),
    "valid_until": gettext_lazy("valid until"),
    "source": gettext_lazy("source"),
    "evidence_url": gettext_lazy("evidence (address)"),
    "url": gettext_lazy("address"),
    "secret_hint": gettext_lazy("secret (start)"),
    "token_type": gettext_lazy("secret type"),
    "source_network": gettext_lazy("source network"),
    "where": gettext_lazy("where"),
    "throttled": gettext_lazy("attempts paused"),
    "codes_left": gettext_lazy("recovery codes left"),
    "subject": gettext_lazy("applies to"),
    "devices_removed": gettext_lazy("devices removed"),
    "attempts_cleared": gettext_lazy("failed attempts cleared"),
    "addresses_cleared": gettext_lazy("addresses unblocked"),
    "authenticator_app": gettext_lazy("authenticator app removed"),
    "passkeys": gettext_lazy("passkeys removed"),
    "recovery_codes": gettext_lazy("recovery codes removed"),
    "action": gettext_lazy("action"),
    "why": gettext_lazy("why"),
    "changed": gettext_lazy("changed"),
    "emails": gettext_lazy("e-mail addresses"),
    "webhook_url": gettext_lazy("webhook address"),
    "webhook_secret": gettext_lazy("webhook signing secret"),
    "event_id": gettext_lazy("event ID"),
    "event": gettext_lazy("event"),
}
#: Keys whose numbers are seconds, shown as a duration in words (besides every ``*_seconds`` key).
DURATIONS = {"expires_in", "token_lifetime"}
#: Values recorded as codes, shown in words.
VALUES = {
    # Only the community's two newest secrets are compared: an ended or suspended one among them reads
    # "secret_ended"; an older one lands here, with any wrong secret.
    "invalid_client": gettext_lazy(
        "wrong or too old secret (matches neither of the community's two newest secrets), or unknown client"
    ),
    "method_not_allowed": gettext_lazy("method not allowed by the policy"),
    "ip_not_allowed": gettext_lazy("source IP not allowed by the policy"),
    "dpop_proof_required": gettext_lazy("DPoP proof missing (the policy requires it)"),
    "community_inactive": gettext_lazy("community deactivated"),
    "secret_ended": gettext_lazy("ended or suspended secret"),
    "replayed_jti": gettext_lazy("assertion used twice"),
    "cut_off_while_issuing": gettext_lazy(
        "credential ended, or community deactivated, while the token was being issued"
    ),
    # private_key_jwt: why the signed assertion was refused (clients.assertions.ASSERTION_REFUSALS).
    "malformed_assertion": gettext_lazy("assertion unreadable (not a valid JWT)"),
    "algorithm_not_allowed": gettext_lazy("assertion signed with an algorithm we do not accept"),
    "forbidden_header": gettext_lazy("assertion header not allowed (it names its own key, or crit)"),
    "unacceptable_text": gettext_lazy("assertion with text no honest client sends"),
    "iss_sub_mismatch": gettext_lazy("assertion iss and sub differ (both must be the client_id)"),
    "client_id_mismatch": gettext_lazy("the client_id field names someone other than the assertion"),
    "expired": gettext_lazy("assertion expired"),
    "not_yet_valid": gettext_lazy(
        "assertion not valid yet (issued in the future: check the partner's clock)"
    ),
    "wrong_audience": gettext_lazy("assertion addressed to another server (aud)"),
    "invalid_claims": gettext_lazy("assertion claims missing or invalid (exp, iat or jti)"),
    "bad_signature_or_unknown_key": gettext_lazy("invalid signature or unknown key (or one already retired)"),
    "lifetime_too_long": gettext_lazy("assertion valid for too long (more than an hour)"),
    "invalid_jti": gettext_lazy("assertion ID (jti) empty or unacceptable"),
    # DPoP proofs refused at the token endpoint (tokens.dpop.PROOF_REFUSALS, recorded as "dpop_<reason>").
    "dpop_algorithm_not_allowed": gettext_lazy("DPoP proof signed with an algorithm we do not accept"),
    "dpop_bad_key": gettext_lazy("DPoP proof with an unusable key"),
    "dpop_malformed_proof": gettext_lazy("DPoP proof unreadable (not a valid JWT)"),
    "dpop_wrong_typ": gettext_lazy("DPoP proof of the wrong type (typ)"),
    "dpop_bad_signature": gettext_lazy("DPoP proof with an invalid signature"),
    "dpop_iat_in_future": gettext_lazy("DPoP proof issued in the future (check the partner's clock)"),
    "dpop_invalid_claims": gettext_lazy("DPoP proof claims missing or invalid"),
    "dpop_stale_proof": gettext_lazy("DPoP proof too old"),
    "dpop_wrong_method": gettext_lazy("DPoP proof made for another HTTP method"),
    "dpop_wrong_url": gettext_lazy("DPoP proof made for another address"),
    "dpop_wrong_ath": gettext_lazy("DPoP proof made for another access token"),
    "dpop_replayed_jti": gettext_lazy("DPoP proof used twice"),
    "client_secret": gettext_lazy("client secret (client_secret)"),
    "private_key_jwt": gettext_lazy("signature with the partner's key (private_key_jwt)"),
    "off": gettext_lazy("off"),
    "optional": gettext_lazy("optional"),
    "required": gettext_lazy("required"),
    "invalid_credentials": gettext_lazy("wrong username or password"),
    "locked_out": gettext_lazy("blocked after too many wrong passwords"),
    "sign_in": gettext_lazy("at sign-in"),
    "prompt": gettext_lazy("at the confirmation prompt"),
    "enrolment": gettext_lazy("while enrolling"),
    "second_factor_reset": gettext_lazy("reset the second factor"),
    "staff_lock_lift": gettext_lazy("lift the sign-in block"),
    "revocation_request_complete": gettext_lazy("complete a revocation request"),
    "same_person": gettext_lazy("it was their own (another security member must do it)"),
    "partner": gettext_lazy("partner report"),
    "staff": gettext_lazy("staff (console)"),
    "secret_scanning": gettext_lazy("secret scanning"),
    "totp": gettext_lazy("authenticator app"),
    "passkey": gettext_lazy("passkey"),
}
#: A refusal whose client_id is a community's: "or unknown client" would mislead whoever reads it.
KNOWN_CLIENT_VALUES = {
    "invalid_client": gettext_lazy(
        "wrong or too old secret: matches neither of the community's two newest secrets"
    ),
}


def label(key: str) -> str:
    return str(LABELS.get(key, key.replace("_", " ")))


def _duration(seconds) -> str:
    return duration(seconds) if isinstance(seconds, int | float) else str(seconds)


def _secret(pk) -> str:
    """A secret the row names by its number, as staff know it: by its start ("bfl_sk_AbCd…")."""
    hint = ClientSecret.objects.filter(pk=pk).values_list("hint", flat=True).first()
    return hint or _("secret no. %(id)s") % {"id": pk}


def _key(pk) -> str:
    """A key the row names by its number (``client_key_id``), as staff know it: by its kid."""
    kid = ClientKey.objects.filter(pk=pk).values_list("kid", flat=True).first()
    return kid or _("key no. %(id)s") % {"id": pk}


def _value(key: str, value) -> SafeString | str:
    if key == "allowed_ips" and value == []:  # every address may call, as the policy list says
        return _("anywhere")
    if value is None or value == "" or value == []:
        return "—"
    if key in ("id", "secret_id") and isinstance(value, int):  # "id": in a row's list of secrets
        return _secret(value)
    if key == "client_key_id" and isinstance(value, int):
        return _key(value)
    if key == "subject" and isinstance(value, str):  # a staff username, shown as colleagues know them
        return staff_name(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key.endswith("_seconds") or key in DURATIONS:
        return _duration(value)
    if isinstance(value, dict):  # "before"/"after", {"from", "to"} of a field: one line, label: value; …
        return "; ".join(
            f"{label(k)}: {_value(key if k in ('from', 'to') else k, v)}" for k, v in value.items()
        )
    if isinstance(value, list):
        return ", ".join(str(_value(key, item)) for item in value)
    if isinstance(value, str):
        moment = parse_datetime(value) if len(value) >= 19 and value[4:5] == "-" else None
        if moment is not None:
            return console_time(moment)
        return str(VALUES.get(value, value))
    return str(value)


def _reason(value, client_known: bool) -> SafeString | str:
    if client_known and isinstance(value, str) and value in KNOWN_CLIENT_VALUES:
        return str(KNOWN_CLIENT_VALUES[value])
    return _value("reason", value)


EMPTY_ENDINGS = ("ended_hints", "secrets_ended")


def details_list(details: dict, *, client_known: bool = False) -> SafeString:
    """``client_known``: the row's client_id is a community's, so a refusal is not an unknown client."""
    shown = details
    if "hint" in details:  # a rotation names its new secret by its start already: not twice
        shown = {key: value for key, value in details.items() if key != "secret_id"}
    if details.get("ended_suspended_hints"):
        # A completion ended the secrets its request had suspended: an empty "secrets ended now: —" (no
        # secret still working) would read as if it ended none.
        shown = {key: value for key, value in shown.items() if key not in EMPTY_ENDINGS or value}
    return format_html(
        '<dl class="audit-details">{}</dl>',
        format_html_join(
            "",
            "<dt>{}</dt><dd>{}</dd>",
            (
                (label(key), _reason(value, client_known) if key == "reason" else _value(key, value))
                for key, value in shown.items()
            ),
        ),
    )


def actor_html(event) -> SafeString | str:
    """Who did it: a staff member by name; an unauthenticated caller in words (``AuditEvent.actor_label``);
    anyone else as recorded, with what kind of actor it is."""
    if event.actor_type == "staff":
        return staff_name(event.actor)
    if event.actor_type == "anonymous":  # its label already says what kind of actor it is
        return event.actor_label
    return format_html("{}<br><small>{}</small>", event.actor or "—", event.get_actor_type_display())


def details_html(details, *, client_known: bool = False) -> SafeString | str:
    """The readable list, and the raw JSON behind a toggle."""
    if not details:
        return "—"
    if not isinstance(details, dict):
        return str(details)
    return format_html(
        '{}<details class="audit-raw"><summary>{}</summary><pre>{}</pre></details>',
        details_list(details, client_known=client_known),
        _("Raw record (JSON)"),
        json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True),
    )


def history_rows(events: Iterable[Any]) -> list[Any]:
    """Audit rows of one community, each with ``who`` and ``details_shown`` for the history template.
    Every row there is the community's: a refusal names its client_id, never an unknown client."""
    rows = list(events)
    for event in rows:
        event.who = actor_html(event)
        event.details_shown = details_html(event.details, client_known=True)
    return rows


def outsider_refusals_url(community) -> str:
    """The audit trail filtered to ``audit.selectors.outsider_refusals_q``: the community filter's "none"
    choice and the client_id."""
    query = urlencode({"client_id": community.client_id, "community__isnull": "True"})
    return f"{reverse('admin:audit_auditevent_changelist')}?{query}"


def audit_cap_words() -> str | None:
    """The per-client_id audit cap (``AUDIT_FAILURES_PER_CLIENT``) in words, "100 per hour"; None when
    switched off (every refusal with a well-formed credential then gets its row)."""
    rate = api_settings.DEFAULT_THROTTLE_RATES.get("token_failures_audited")
    if not isinstance(rate, str):
        return None
    number, period = rate.split("/")
    per = str(_PER_PERIOD.get(period[0], period))
    return _("%(count)s per %(period)s") % {"count": number, "period": per}


_PER_PERIOD = {
    "s": pgettext_lazy("rate period", "second"),
    "m": pgettext_lazy("rate period", "minute"),
    "h": pgettext_lazy("rate period", "hour"),
    "d": pgettext_lazy("rate period", "day"),
}


def _only_counted() -> str:
    """Which refusals the audit trail does not record one by one, though the usage figures count them."""
    cap = audit_cap_words()
    if cap is None:
        return _("refusals with secrets not even shaped like a Bfluence secret are only counted")
    return _(
        "past %(cap)s per client_id, and with secrets not even shaped like a Bfluence secret, refusals "
        "are only counted"
    ) % {"cap": cap}


def outsider_refusals_note(community) -> SafeString:
    """On the community's history, above its rows: the refusals of callers that presented no valid
    credential, naming only its client_id, counted and linked rather than listed, so an outsider guessing
    secrets cannot push staff actions off the page. The count is the usage figures' (audited or not):
    past the audit cap, and for malformed secrets, the audit trail holds no row to count."""
    caller = _("caller that presented no valid credential (client_id: %(client_id)s)") % {
        "client_id": community.client_id
    }
    usage = community_usage(community)
    counted = outsider_refusals_counted(community, usage)
    audited = outsider_refusals_count(community)
    days = len(usage.days)
    if not counted and not audited.total:
        return format_html(
            "{}",
            ngettext(
                "No refused authentication by a %(caller)s in the last %(days)s day.",
                "No refused authentication by a %(caller)s in the last %(days)s days.",
                days,
            )
            % {"caller": caller, "days": days},
        )
    in_usage = ngettext(
        "%(count)s in the last %(days)s day, by the usage figures",
        "%(count)s in the last %(days)s days, by the usage figures",
        days,
    ) % {"count": counted, "days": days}
    if audited.total:
        recorded = ngettext(
            "recorded one by one in the audit trail: %(recent)s in the last 24 hours, %(total)s in all "
            "(the latest %(moment)s)",
            "recorded one by one in the audit trail: %(recent)s in the last 24 hours, %(total)s in all "
            "(the latest %(moment)s)",
            audited.total,
        ) % {"recent": audited.recent, "total": audited.total, "moment": console_time(audited.newest)}
    else:
        recorded = _("none recorded one by one in the audit trail")
    line = ngettext(
        "Refused authentication by a %(caller)s, not listed below: %(in_usage)s; %(recorded)s; "
        "%(only_counted)s.",
        "Refused authentications by a %(caller)s, not listed below: %(in_usage)s; %(recorded)s; "
        "%(only_counted)s.",
        max(counted, audited.total),
    ) % {"caller": caller, "in_usage": in_usage, "recorded": recorded, "only_counted": _only_counted()}
    if not audited.total:
        return format_html("{}", line)
    return format_html(
        '{} <a id="outsider-refusals-link" href="{}">{}</a>',
        line,
        outsider_refusals_url(community),
        ngettext("See it in the audit trail", "See them in the audit trail", audited.total),
    )
