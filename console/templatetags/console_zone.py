"""The console header's zone, as staff say it ("Horário de Brasília")."""

from django import template

from console.humane import zone_label

register = template.Library()


@register.simple_tag
def console_zone() -> str:
    return zone_label()
