"""The admin's own pages that this project replaces with audited versions (ahead of admin.site.urls)."""

from django.contrib import admin
from django.urls import path

from console.admin.staff import password_change

urlpatterns = [path("password_change/", admin.site.admin_view(password_change))]
