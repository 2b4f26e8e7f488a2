"""The users pages (admins, `manage_users`): create, role and token, deactivate, reset password.

Every change is recorded in the audit log. An admin cannot deactivate or demote themselves,
so a portal cannot lose its last admin by a slip.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal import audit, confirm, services
from portal.decorators import requires
from portal.models import AuditEvent, Profile
from portal.roles import Role, role_of
from portal.team.forms import PasswordResetForm, UserAccessForm, UserCreateForm
from portal.team.tokens import record_refused_form

REFUSED = AuditEvent.Outcome.REFUSED


def _label(token) -> str:
    return token.label if token else ""


@login_required
@require_GET
@requires("manage_users")
def user_list(request: HttpRequest) -> HttpResponse:
    users = User.objects.order_by("username").prefetch_related("groups")
    tokens = dict(Profile.objects.select_related("token").values_list("user_id", "token__label"))
    rows = [(user, role_of(user), tokens.get(user.pk)) for user in users]
    return render(request, "portal/users/list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
@requires("manage_users", action="user.create")
def user_add(request: HttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            record_refused_form(
                request, "user.create", form, {"username": request.POST.get("username", "")}
            )
            return render(request, "portal/users/add.html", {"form": form}, status=400)
        data = form.cleaned_data
        user = services.create_user(
            data["username"], data["password1"], data["role"], data["token"]
        )
        sent = {
            "username": user.username,
            "role": data["role"] or "",
            "token": _label(data["token"]),
        }
        audit.record(request, "user.create", sent=sent)
        messages.success(request, f"Created {user.username}.")
        return redirect("team:user_detail", pk=user.pk)
    return render(request, "portal/users/add.html", {"form": form})


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
    if not form.is_valid():
        record_refused_form(request, "user.change", form, {"username": user.username})
        return _detail(request, user, status=400, access_form=form)
    role, token = form.cleaned_data["role"], form.cleaned_data["token"]
    before = role_of(user)
    services.set_role(user, role)
    services.assign_token(user, token)
    sent = {
        "username": user.username,
        "role": role.value if role else "",
        "previous_role": before.value if before else "",
        "token": _label(token),
    }
    audit.record(request, "user.change", sent=sent)
    messages.success(request, f"Saved {user.username}'s role and token.")
    return redirect("team:user_detail", pk=user.pk)


@login_required
@require_POST
@requires("manage_users", action="user.active")
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (after a confirmation) or reactivate a user."""
    user = get_object_or_404(User, pk=pk)
    active = request.POST.get("active") == "yes"
    action = "user.reactivate" if active else "user.deactivate"
    sent = {"username": user.username}
    if not active and user.pk == request.user.pk:
        message = "You cannot deactivate your own account."
        audit.record(request, action, outcome=REFUSED, sent=sent, message=message)
        messages.error(request, message)
        return redirect("team:user_detail", pk=pk)
    if not active and not confirm.confirmed(request):
        question = f"Deactivate {user.username}? They are signed out and cannot sign in."
        return confirm.ask(request, question, "Deactivate", danger=True)
    services.set_active(user, active)
    audit.record(request, action, sent=sent)
    messages.success(request, f"{'Reactivated' if active else 'Deactivated'} {user.username}.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("team:user_detail", args=[pk]))
    return redirect("team:user_detail", pk=pk)


@login_required
@require_POST
@requires("manage_users", action="user.password")
def user_password(request: HttpRequest, pk: int) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    form = PasswordResetForm(user, request.POST)
    if not form.is_valid():
        record_refused_form(request, "user.password", form, {"username": user.username})
        return _detail(request, user, status=400, password_form=form)
    user.set_password(form.cleaned_data["password1"])
    user.save(update_fields=["password"])
    if user.pk == request.user.pk:
        update_session_auth_hash(request, user)  # stay signed in after changing your own
    audit.record(request, "user.password", sent={"username": user.username})
    messages.success(request, f"Set a new password for {user.username}; tell them in person.")
    return redirect("team:user_detail", pk=pk)
