"""The console's own pages, under /admin/console/, behind the admin's staff check."""

from django.contrib import admin
from django.urls import path

from console import second_factor_views, views

app_name = "console"
urlpatterns = [
    path("confirm-password/", admin.site.admin_view(views.confirm_password), name="confirm-password"),
    # The second factor: open to a signed-in staff member who has not given it yet (SecondFactorGate).
    path("second-factor/", admin.site.admin_view(second_factor_views.verify), name="second-factor-verify"),
    path(
        "second-factor/enrol/", admin.site.admin_view(second_factor_views.enrol), name="second-factor-enrol"
    ),
    path(
        "second-factor/help/", admin.site.admin_view(second_factor_views.help_page), name="second-factor-help"
    ),
    path(
        "second-factor/recovery-codes/",
        admin.site.admin_view(second_factor_views.recovery_codes),
        name="recovery-codes",
    ),
    path("done/<str:key>/", admin.site.admin_view(views.form_done), name="form-done"),
    path("secret/<str:key>/", admin.site.admin_view(views.secret_once), name="secret-once"),
]
