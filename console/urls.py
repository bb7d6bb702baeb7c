"""The console's own pages, under /admin/console/, behind the admin's staff check."""

from django.contrib import admin
from django.urls import path

from console import views

app_name = "console"
urlpatterns = [
    path("confirm-password/", admin.site.admin_view(views.confirm_password), name="confirm-password"),
    path("done/<str:key>/", admin.site.admin_view(views.form_done), name="form-done"),
    path("again/", admin.site.admin_view(views.form_again), name="form-again"),
    path("secret/<str:key>/", admin.site.admin_view(views.secret_once), name="secret-once"),
]
