"""What the console itself must remember: which secret-creating forms were already submitted."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FormSubmission(models.Model):
    """One row per submitted secret-creating form, keyed by the random token the form carried.

    The unique key makes a resubmitted form (reload, Back, double click, replay) fail to insert in the
    same transaction as the rotation it would repeat: on every database and with any number of
    processes, one form creates at most one secret.
    """

    key = models.CharField(_("form key"), max_length=64, unique=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("staff member")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    #: The action and its object ("rotate:12"), the form's address and what the action did: the page a
    #: second submission of the same form gets says what already happened and when.
    scope = models.CharField(_("action"), max_length=100, blank=True, default="")
    page = models.CharField(_("form address"), max_length=300, blank=True, default="")
    summary = models.CharField(_("what was done"), max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("form submission")
        verbose_name_plural = _("form submissions")

    def __str__(self) -> str:
        return _("form submitted at %(moment)s") % {"moment": self.created_at}


class StaffAccount(get_user_model()):  # type: ignore[misc]
    """The staff accounts as the security group sees them: second factor and sign-in lock, with the two
    actions another security member takes for a colleague (reset the factor, lift the lock)."""

    class Meta:
        proxy = True
        verbose_name = _("staff account")
        verbose_name_plural = _("staff accounts")
        permissions = [
            ("manage_staff_access", _("Can reset a colleague's second factor and lift a sign-in lock"))
        ]
