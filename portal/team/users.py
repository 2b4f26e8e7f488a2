"""The users pages (admins, `manage_users`): create, role and token, deactivate, reset password.

Every change is recorded in the audit log. An admin cannot deactivate or demote themselves,
so a portal cannot lose its last admin by a slip.
"""

from __future__ import annotations

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
from portal.team.forms import PasswordResetForm, UserAccessForm, UserCreateForm


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
            return Done(answer=user, message=f"Created {user.username}.", sent=sent)

        outcome = perform(request, "user.create", create, form=form)
        if outcome.refused:
            return render(request, "portal/users/add.html", {"form": form}, status=400)
        outcome.flash(request)
        return redirect("team:user_detail", pk=outcome.answer.pk)
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
    if not outcome.ok:
        return redirect("team:user_detail", pk=pk)
    if request.htmx:
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
