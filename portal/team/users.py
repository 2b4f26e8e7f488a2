"""The users pages (admins, `manage_users`): create, role and token, deactivate, reset password.

Every change is recorded in the audit log. An admin cannot deactivate or demote themselves,
so a portal cannot lose its last admin by a slip.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal import confirm, services
from portal.decorators import requires
from portal.models import Profile
from portal.outcomes import Done, Refused, perform
from portal.roles import Role, role_of
from portal.team.forms import (
    UNMAPPED_NOTE,
    LockoutLiftForm,
    PasswordResetForm,
    UserAccessForm,
    UserCreateForm,
)


def _label(token) -> str:
    return token.label if token else ""


@login_required
@require_GET
@requires("manage_users")
def user_list(request: HttpRequest) -> HttpResponse:
    users = User.objects.order_by("username").prefetch_related("groups")
    profiles = {
        user_id: (label, must_change)
        for user_id, label, must_change in Profile.objects.values_list(
            "user_id", "token__label", "must_change_password"
        )
    }
    rows = [(user, role_of(user), *profiles.get(user.pk, (None, False))) for user in users]
    context = {
        "rows": rows,
        "lockouts": services.lockouts(),
        "cool_off": settings.AXES_COOLOFF_TIME,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    return render(request, "portal/users/list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@requires("manage_users", action="user.create")
def user_add(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    context = {"form": form, "no_token_warning": UNMAPPED_NOTE}
    if request.method == "POST":

        def create() -> Done:
            data = form.cleaned_data
            user = services.create_user(
                data["username"], data["password1"], data["role"], data["token"]
            )
            sent = {
                "username": user.username,
                "role": data["role"] or "",
                "token": _label(data["token"]),
            }
            if data["token"] is None:
                message = f"Created {user.username}. {UNMAPPED_NOTE}"
                return Done(answer=user, message=message, level="warning", sent=sent)
            return Done(answer=user, message=f"Created {user.username}.", sent=sent)

        outcome = perform(request, "user.create", create, form=form)
        if outcome.refused:
            return render(request, "portal/users/add.html", context, status=400)
        outcome.flash(request)
        return redirect("team:user_detail", pk=outcome.answer.pk)
    return render(request, "portal/users/add.html", context)


def _detail(request: HttpRequest, user: User, status: int = 200, **forms) -> HttpResponse:
    profile = Profile.objects.select_related("token").filter(user=user).first()
    token = profile.token if profile else None
    role = role_of(user)
    context = {
        "subject": user,
        "role": role,
        "token": token,
        "access_form": forms.get("access_form")
        or UserAccessForm(initial={"role": role.value if role else "", "token": token}),
        "password_form": forms.get("password_form") or PasswordResetForm(user),
        "is_self": user.pk == request.user.pk,
        "must_change": bool(profile and profile.must_change_password),
        "no_token_warning": UNMAPPED_NOTE,
    }
    return render(request, "portal/users/detail.html", context, status=status)


@login_required
@require_GET
@requires("manage_users")
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(User, pk=pk))


@login_required
@require_POST
@requires("manage_users", action="user.change")
def user_access(request: HttpRequest, pk: int) -> HttpResponse:
    """Set a user's role and token."""
    user = get_object_or_404(User, pk=pk)
    form = UserAccessForm(request.POST)
    if form.is_valid() and user.pk == request.user.pk and form.cleaned_data["role"] != Role.ADMIN:
        form.add_error("role", "You cannot take the admin role from yourself.")

    def change() -> Done:
        role, token = form.cleaned_data["role"], form.cleaned_data["token"]
        before = role_of(user)
        services.set_role(user, role)
        services.assign_token(user, token)
        sent = {
            "role": role.value if role else "",
            "previous_role": before.value if before else "",
            "token": _label(token),
        }
        return Done(message=f"Saved {user.username}'s role and token.", sent=sent)

    outcome = perform(request, "user.change", change, form=form, sent={"username": user.username})
    if outcome.refused:
        return _detail(request, user, status=400, access_form=form)
    outcome.flash(request)
    return redirect("team:user_detail", pk=user.pk)


@login_required
@require_POST
@requires("manage_users", action="user.active")
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (after a confirmation) or reactivate a user."""
    user = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "yes"
    action = "user.reactivate" if active else "user.deactivate"
    if not active and user.pk != request.user.pk and not confirm.confirmed(request):
        question = f"Deactivate {user.username}? They are signed out and cannot sign in."
        return confirm.ask(request, question, "Deactivate", danger=True)

    def switch() -> Done:
        if not active and user.pk == request.user.pk:
            raise Refused("You cannot deactivate your own account.")
        services.set_active(user, active)
        return Done(message=f"{'Reactivated' if active else 'Deactivated'} {user.username}.")

    outcome = perform(request, action, switch, sent={"username": user.username})
    outcome.flash(request)
    if request.htmx:  # done or not, the page is drawn again (an htmx redirect would be swapped in)
        return HttpResponseClientRedirect(reverse("team:user_detail", args=[pk]))
    return redirect("team:user_detail", pk=pk)


@login_required
@require_POST
@requires("manage_users", action="user.password")
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    form = PasswordResetForm(user, request.POST)

    def reset() -> Done:
        user.set_password(form.cleaned_data["password1"])
        user.save(update_fields=["password"])
        if user.pk == request.user.pk:
            update_session_auth_hash(request, user)  # stay signed in after changing your own
        return Done(message=f"Set a new password for {user.username}; tell them in person.")

    outcome = perform(request, "user.password", reset, form=form, sent={"username": user.username})
    if outcome.refused:
        return _detail(request, user, status=400, password_form=form)
    outcome.flash(request)
    return redirect("team:user_detail", pk=pk)


@login_required
@require_POST
@requires("manage_users", action="user.require_password_change")
def user_require_password(request: HttpRequest, pk: int) -> HttpResponse:
    """Require (or stop requiring) a password change at the user's next page."""
    user = get_object_or_404(User, pk=pk)
    required = request.POST.get("required") == "yes"

    def switch() -> Done:
        services.require_password_change(user, required)
        if required:
            message = f"{user.username} must choose a new password before anything else."
        else:
            message = f"{user.username} no longer has to change their password."
        return Done(message=message, sent={"required": required})

    sent = {"username": user.username}
    perform(request, "user.require_password_change", switch, sent=sent).flash(request)
    return redirect("team:user_detail", pk=pk)


@login_required
@require_POST
@requires("manage_users", action="auth.lockout_lift")
def lockout_lift(request: HttpRequest) -> HttpResponse:
    """Lift a sign-in lockout (after a confirmation): that username may sign in from that
    address again at once."""
    form = LockoutLiftForm(request.POST)
    if form.is_valid() and not confirm.confirmed(request):
        who, ip = form.cleaned_data["username"], form.cleaned_data["ip"] or "an unknown address"
        question = f"Lift the sign-in pause for “{who}” from {ip}? They can try again at once."
        return confirm.ask(request, question, "Lift the pause")

    def lift() -> Done:
        username, ip = form.cleaned_data["username"], form.cleaned_data["ip"] or None
        if not services.lift_lockout(username, ip):
            raise Refused(f"“{username}” from {ip or 'that address'} is no longer paused.")
        return Done(message=f"Lifted the sign-in pause for “{username}” from {ip or '—'}.")

    sent = {"username": request.POST.get("username", ""), "ip": request.POST.get("ip", "")}
    perform(request, "auth.lockout_lift", lift, form=form, sent=sent).flash(request)
    if request.htmx:
        return HttpResponseClientRedirect(reverse("team:users"))
    return redirect("team:users")
