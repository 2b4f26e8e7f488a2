from django.contrib import admin
from django.urls import include, path

from portal import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/password/", views.password_change, name="password_change"),
    path("devices/", include("devices.urls")),
    path("fleet/", include("fleet.urls")),
    path("", include("firmware.urls")),
    path("", include("portal.team.urls")),
    path("django-admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
