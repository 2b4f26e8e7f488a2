from django.contrib import admin
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("devices/", include("devices.urls")),
    path("", include("firmware.urls")),
    path("", include("portal.team.urls")),
    path("django-admin/", admin.site.urls),
]
