"""The token vault's pages (admins, `manage_tokens`) and "My API token" (every user, if allowed).

A token's value is typed once into a password field and never sent back to a browser: the
pages show its label and hint (last four characters) only.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from portal import audit, confirm, services
from portal.decorators import requires
from portal.models import ApiToken, AuditEvent
from portal.team.forms import SelfTokenForm, TokenAddForm, TokenLabelForm, TokenValueForm

OK, REFUSED = AuditEvent.Outcome.OK, AuditEvent.Outcome.REFUSED


def _record_verification(request: HttpRequest, action: str, token: ApiToken, sent: dict) -> None:
    """Audit a save or check, and tell the admin what the upstream said about the token."""
    sent = {"label": token.label, "hint": token.hint, **sent, "verified": token.status}
    audit.record(request, action, sent=sent, message=token.last_error)
    if token.status == "ok":
        messages.success(request, f"Saved “{token.label}”; the device service accepted it.")
    elif token.status == "rejected":
        messages.warning(
            request, f"Saved “{token.label}”, but the device service rejected it: flagged."
        )
    else:
        messages.warning(
            request, f"Saved “{token.label}”, but it could not be checked: {token.last_error}"
        )


def record_refused_form(request: HttpRequest, action: str, form, sent: dict | None = None) -> None:
    """Audit a form the portal refused: which fields were wrong, never what was typed in them."""
    problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
    audit.record(request, action, outcome=REFUSED, sent=sent or {}, message=problems)


@login_required
@require_GET
@requires("manage_tokens")
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = (
        ApiToken.objects.select_related("created_by", "personal_for")
        .annotate(user_count=Count("profiles"))
        .prefetch_related("profiles__user")
    )
    rows = [(token, token.readable()) for token in tokens]
    return render(request, "portal/tokens/list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
@requires("manage_tokens", action="token.add")
def token_add(request: HttpRequest) -> HttpResponse:
    form = TokenAddForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            record_refused_form(
                request, "token.add", form, {"label": request.POST.get("label", "")[:100]}
            )
            return render(request, "portal/tokens/add.html", {"form": form}, status=400)
        token = services.add_token(
            form.cleaned_data["label"], form.cleaned_data["value"], request.user
        )
        _record_verification(request, "token.add", token, {})
        return redirect("team:token_detail", pk=token.pk)
    return render(request, "portal/tokens/add.html", {"form": form})


def _detail(request: HttpRequest, token: ApiToken, status: int = 200, **forms) -> HttpResponse:
    context = {
        "token": token,
        "readable": token.readable(),
        "users": [p.user for p in token.profiles.select_related("user").order_by("user__username")],
        "label_form": forms.get("label_form") or TokenLabelForm(initial={"label": token.label}),
        "value_form": forms.get("value_form") or TokenValueForm(),
    }
    return render(request, "portal/tokens/detail.html", context, status=status)


@login_required
@require_GET
@requires("manage_tokens")
def token_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(ApiToken, pk=pk))


@login_required
@require_POST
@requires("manage_tokens", action="token.relabel")
def token_relabel(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    form = TokenLabelForm(request.POST, instance=token)
    old = token.label
    if not form.is_valid():
        record_refused_form(request, "token.relabel", form, {"label": old})
        return _detail(request, token, status=400, label_form=form)
    services.relabel_token(token, form.cleaned_data["label"])
    audit.record(request, "token.relabel", sent={"from": old, "to": token.label})
    messages.success(request, f"Renamed “{old}” to “{token.label}”.")
    return redirect("team:token_detail", pk=token.pk)


@login_required
@require_POST
@requires("manage_tokens", action="token.replace")
def token_replace(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    form = TokenValueForm(request.POST)
    if not form.is_valid():
        record_refused_form(request, "token.replace", form, {"label": token.label})
        return _detail(request, token, status=400, value_form=form)
    services.replace_token_value(token, form.cleaned_data["value"])
    _record_verification(request, "token.replace", token, {})
    return redirect("team:token_detail", pk=token.pk)


@login_required
@require_POST
@requires("manage_tokens", action="token.verify")
def token_verify(request: HttpRequest, pk: int) -> HttpResponse:
    token = services.verify_token(get_object_or_404(ApiToken, pk=pk))
    sent = {"label": token.label, "verified": token.status}
    audit.record(request, "token.verify", sent=sent, message=token.last_error)
    if token.status == "ok":
        messages.success(request, f"The device service accepts “{token.label}”.")
    else:
        messages.warning(request, f"“{token.label}” did not pass the check: {token.last_error}")
    return redirect("team:token_detail", pk=token.pk)


@login_required
@require_POST
@requires("manage_tokens", action="token.delete")
def token_delete(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk)
    if not confirm.confirmed(request):
        question = f"Delete the token “{token.label}”? This cannot be undone."
        return confirm.ask(request, question, "Delete", danger=True)
    sent = {"label": token.label, "hint": token.hint}
    try:
        services.delete_token(token)
    except services.TokenInUse as error:
        audit.record(request, "token.delete", outcome=REFUSED, sent=sent, message=str(error))
        messages.error(request, str(error))
        return redirect("team:token_detail", pk=pk)
    audit.record(request, "token.delete", sent=sent)
    messages.success(request, f"Deleted the token “{sent['label']}”.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("team:tokens"))
    return redirect("team:tokens")


@login_required
@require_http_methods(["GET", "POST"])
def my_token(request: HttpRequest) -> HttpResponse:
    """ "My API token": a user enters their own token, when PORTAL_ALLOW_SELF_TOKEN is on."""
    if not settings.PORTAL_ALLOW_SELF_TOKEN:
        message = "Entering your own API token is turned off here. Ask an admin to assign one."
        if request.method == "POST":
            audit.record(request, "token.self", outcome=REFUSED, message=message)
        return render(request, "portal/forbidden.html", {"message": message}, status=403)
    form = SelfTokenForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            token = services.save_personal_token(request.user, form.cleaned_data["value"])
            _record_verification(request, "token.self", token, {})
            return redirect("team:my_token")
        record_refused_form(request, "token.self", form)
    profile = getattr(request.user, "portal_profile", None)
    context = {"form": form, "current": profile.token if profile else None}
    return render(request, "portal/tokens/mine.html", context, status=400 if form.errors else 200)
