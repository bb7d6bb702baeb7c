"""The admin's own messages, worded again for Portuguese.

Django's pt-BR reads "O {name} “{obj}” foi adicionado", masculine whatever the record: "O comunidade …
adicionado". Listed here so ``makemessages`` keeps them in our catalogue, which Django reads before its
own (LOCALE_PATHS), with wording that needs no gender ("Comunidade “acme” adicionada" is not possible
from "{name}"; "Salvo: comunidade “acme”." is). The same for phrases Django's pt-BR words unnaturally
("Parceiros administração", "Nenhum disponível"), for a typo in Django's pt-BR ("Alternar ordenção"), for
a history page that should point to the audit trail, and for month names, lower case in Portuguese.
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
    # A section's page ("Parceiros"), the bulk action with nothing ticked, the empty "Recent actions".
    gettext_noop("%(app)s administration"),
    gettext_noop("Items must be selected in order to perform actions on them. No items have been changed."),
    gettext_noop("None available"),
    # "O %(name)s com ID … removido": masculine for every record ("Não há registro de comunidade com o ID …"
    # needs no gender); a wrong history sentence; a typo.
    gettext_noop("%(name)s with ID “%(key)s” doesn’t exist. Perhaps it was deleted?"),
    gettext_noop("This object doesn’t have a change history. It probably wasn’t added via this admin site."),
    gettext_noop("Toggle sorting"),
)

#: Month names as the date hierarchy and the "F" date format show them ("7 de dezembro").
MONTH_NAMES = (
    gettext_noop("January"),
    gettext_noop("February"),
    gettext_noop("March"),
    gettext_noop("April"),
    gettext_noop("May"),
    gettext_noop("June"),
    gettext_noop("July"),
    gettext_noop("August"),
    gettext_noop("September"),
    gettext_noop("October"),
    gettext_noop("November"),
    gettext_noop("December"),
)
