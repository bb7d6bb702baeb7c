"""Partner security notifications: contacts, the outbox, and delivery (SPEC §2.10)."""

from notifications.services.contacts import ContactsChange, email_lines_parse, security_contacts_set
from notifications.services.delivery import (
    DeliveryRun,
    notification_deliver,
    notification_resend,
    notifications_deliver_due,
)
from notifications.services.outbox import notifications_withdraw, notify, notify_rotation

__all__ = [
    "ContactsChange",
    "DeliveryRun",
    "email_lines_parse",
    "notification_deliver",
    "notification_resend",
    "notifications_deliver_due",
    "notifications_withdraw",
    "notify",
    "notify_rotation",
    "security_contacts_set",
]
