"""The portal's own pages: home, sign-in and sign-out (both recorded in the audit log), and
"Change your password" (through the one write path)."""

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from portal import audit, services, storable
from portal.outcomes import Done, perform


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return redirect("devices:list")


class SignInForm(AuthenticationForm):
    """Django's sign-in form, refusing a name no account can have before it is tried.

    AuthenticationForm sets the username's max_length after the field is built, so Django
    never checks it: a 5,000-character name reached django-axes, whose attempt row holds 255,
    and PostgreSQL answered 500. A NUL cannot be stored either.
    """

    def clean(self) -> dict:
        username = self.cleaned_data.get("username") or ""
        odd = len(username) > self.username_field.max_length or storable.problem(username)
        if odd or ("username" in self.errors and self.data.get("username")):
            raise ValidationError(
                "No account has a name like that: check the username.", code="invalid_username"
            )
        return super().clean()


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form) -> HttpResponse:
        response = super().form_valid(form)
        audit.record(self.request, "auth.sign_in")
        return response

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context.update(why_here(self.request))
        return context


def why_here(request: HttpRequest) -> dict[str, str]:
    """Why someone is on the sign-in page, when they were sent there: their session ended
    (portal.middleware adds `reason=ended`), and a form they sent then was not done."""
    params = request.POST if request.method == "POST" else request.GET
    if params.get("reason") == "ended":
        why = "Your session ended; sign in again."
    elif params.get("next"):
        why = "Sign in to continue to that page."
    else:
        return {}
    context = {"why": why, "reason": params.get("reason", "")[:16]}
    if params.get("unsent") == "1":
        context["unsent"] = (
            "What you sent last was not sent: nothing was done. "
            "Send it again once you are signed in."
        )
    return context


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.is_authenticated:
            audit.record(request, "auth.sign_out")
        return super().post(request, *args, **kwargs)


def must_change_password(user) -> bool:
    """Whether an admin asked this user to change their password at sign-in."""
    profile = getattr(user, "portal_profile", None)
    return bool(profile and profile.must_change_password)


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, request.is_secure())
    return wanted if wanted and safe else ""


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Everyone changes their own password: Django's PasswordChangeForm (the old password,
    then the new one twice, Django's validators), audited. Stays signed in afterwards."""
    user = request.user
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST":

        def change() -> Done:
            services.change_own_password(user, form)
            update_session_auth_hash(request, user)  # this session goes on; the others end
            return Done(message="Your password is changed.")

        outcome = perform(request, "auth.password_change", change, form=form)
        if not outcome.refused:
            outcome.flash(request)
            return redirect(_next(request) or "home")
    context = {"form": form, "required": must_change_password(user), "next": _next(request)}
    return render(
        request, "portal/password_change.html", context, status=400 if form.errors else 200
    )
