"""The portal's own pages: home, sign-in and sign-out (both recorded in the audit log)."""

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from portal import audit


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("devices:list")


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        audit.record(self.request, "auth.sign_in")
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            audit.record(request, "auth.sign_out")
        return super().post(request, *args, **kwargs)
