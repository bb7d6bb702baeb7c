"""The admin's own messages, worded again for Portuguese.

Django's pt-BR reads "O {name} “{obj}” foi adicionado", masculine whatever the record: "O comunidade …
adicionado". Listed here so ``makemessages`` keeps them in our catalogue, which Django reads before its
own (LOCALE_PATHS), with wording that needs no gender ("Comunidade “acme” adicionada" is not possible
from "{name}"; "Salvo: comunidade “acme”." is).
"""

from django.utils.translation import gettext_noop

ADMIN_MESSAGES = (
    gettext_noop("The {name} “{obj}” was added successfully."),
    gettext_noop("The {name} “{obj}” was added successfully. You may add another {name} below."),
    gettext_noop("The {name} “{obj}” was changed successfully."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may edit it again below."),
    gettext_noop("The {name} “{obj}” was changed successfully. You may add another {name} below."),
    gettext_noop("The %(name)s “%(obj)s” was deleted successfully."),
    gettext_noop("You may edit it again below."),
)
