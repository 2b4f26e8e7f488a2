// Nothing the user did is lost or done twice: an ended session keeps the page and says what
// was not sent; a write control waits while its request runs; a half-typed form asks before
// it is left. The server has the last word on double sends (one-time form keys,
// portal/form_keys.py): this only keeps the page honest and calm. No inline scripts (CSP).
(function () {
  "use strict";

  const CSRF_COOKIE = "csrftoken";

  // ---- The CSRF token: always the browser's current one --------------------------------
  // Signing in again (in another tab, or in the dialog below) gives the browser a new CSRF
  // cookie; the page still holds the old token. Every request takes the cookie's instead,
  // so the page can simply send again once its user is signed in.
  function csrfCookie() {
    const prefix = CSRF_COOKIE + "=";
    const found = document.cookie.split("; ").find(function (part) {
      return part.indexOf(prefix) === 0;
    });
    return found ? decodeURIComponent(found.slice(prefix.length)) : "";
  }

  function useCsrf(token) {
    if (!token) return;
    let headers = {};
    try {
      headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    } catch (e) {
      headers = {};
    }
    if (headers["X-CSRFToken"] !== token) {
      headers["X-CSRFToken"] = token;
      document.body.setAttribute("hx-headers", JSON.stringify(headers));
    }
    document.querySelectorAll("input[name=csrfmiddlewaretoken]").forEach(function (input) {
      input.value = token;
    });
  }

  document.addEventListener("htmx:configRequest", function (event) {
    const token = csrfCookie();
    if (!token) return;
    useCsrf(token);
    event.detail.headers["X-CSRFToken"] = token;
    // htmx 2's parameters are a proxy of the form's FormData without an `in` (has) trap:
    // read the field through it, or this request would still carry the stale token.
    const params = event.detail.parameters;
    if (params && params.csrfmiddlewaretoken !== undefined) params.csrfmiddlewaretoken = token;
  });

  // ---- Which form a request belongs to, and what it is called --------------------------
  const submitters = new WeakMap(); // form -> the button that last submitted it

  function formOf(elt) {
    if (!elt || !elt.closest) return null;
    return elt.tagName === "FORM" ? elt : elt.form || elt.closest("form");
  }

  function isWrite(form) {
    return Boolean(form) && (form.getAttribute("method") || "").toLowerCase() === "post";
  }

  function actionName(elt) {
    const labelled = elt && elt.closest && elt.closest("[data-action-label]");
    if (labelled) return labelled.getAttribute("data-action-label");
    const form = formOf(elt);
    let button = elt && elt.matches && elt.matches("button") ? elt : null;
    button = button || (form && submitters.get(form)) ||
      (form && form.querySelector("button[type=submit], button:not([type])"));
    const text = button ? button.textContent.replace(/\s+/g, " ").trim() : "";
    return text || "The last action";
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button, input[type=submit]");
    const form = button && formOf(button);
    if (form) submitters.set(form, button);
  }, true);

  // ---- Write controls wait while their request runs ------------------------------------
  const busy = new WeakMap(); // form (or element) -> the controls it disabled

  function hold(form, extra) {
    const controls = Array.from(form.querySelectorAll("button, input[type=submit]"));
    if (extra && controls.indexOf(extra) < 0) controls.push(extra);
    const held = controls.filter(function (control) { return !control.disabled; });
    held.forEach(function (control) { control.disabled = true; });
    busy.set(form, held);
    form.setAttribute("aria-busy", "true");
  }

  function release(form) {
    const held = busy.get(form);
    if (!held) return;
    busy.delete(form);
    held.forEach(function (control) { control.disabled = false; });
    form.removeAttribute("aria-busy");
  }

  // A second submission of a form whose request is still running goes nowhere (Enter in a
  // field reaches a form whose buttons are disabled; htmx would queue it and send it after).
  document.addEventListener("submit", function (event) {
    if (busy.has(event.target)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    const form = formOf(elt) || elt;
    if (event.detail.requestConfig.verb !== "get" && busy.has(form)) event.preventDefault();
  });

  document.addEventListener("htmx:beforeSend", function (event) {
    const elt = event.detail.elt;
    if (event.detail.requestConfig.verb === "get") return;
    hold(formOf(elt) || elt, elt);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const elt = event.detail.elt;
    const form = formOf(elt) || elt;
    release(form);
    const xhr = event.detail.xhr;
    if (!xhr || !xhr.status) return; // no answer: the key stays, so a retry is refused if it arrived
    // A form that stays on the page (Reboot, a command button) takes the next form key.
    const next = xhr.getResponseHeader("X-Form-Key");
    const field = next && form.isConnected && form.querySelector && form.querySelector("input[name=form_key]");
    if (field) field.value = next;
    const refused = xhr.getResponseHeader("X-Form-Key-Refused");
    if (refused && !document.body.innerText.includes(refused)) notice(refused);
    if (xhr.status >= 200 && xhr.status < 300) signedInAgain();
  });

  // A plain form (no htmx) waits too once sent; coming back to the page (Back) frees it.
  let submitting = null;
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (event.defaultPrevented || !isWrite(form)) return;
    const token = csrfCookie();
    const field = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (token && field) field.value = token;
    submitting = form;
    // After the submission is built: a disabled submitter would leave its name out.
    setTimeout(function () { hold(form); }, 0);
  });

  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    submitting = null;
    document.querySelectorAll("form[aria-busy=true]").forEach(release);
  });

  function notice(text) {
    const box = document.getElementById("messages");
    if (!box) return;
    const line = document.createElement("p");
    line.className = "flash flash-warning";
    line.setAttribute("role", "alert");
    line.textContent = text;
    box.replaceChildren(line);
  }

  // ---- An ended session: the page stays, says what was not sent, offers to sign in ------
  const banner = document.getElementById("session-banner");
  let unsent = "";

  function part(name) {
    return banner.querySelector("[data-banner-" + name + "]");
  }

  document.addEventListener("portal:signed-out", function (event) {
    if (!banner) return;
    const detail = event.detail || {};
    const posted = detail.method && detail.method !== "GET";
    if (posted) unsent = actionName(event.target);
    const csrf = detail.reason === "csrf";
    part("title").textContent = csrf
      ? "This page's security check had expired."
      : "Your session has ended.";
    part("unsent").textContent = unsent
      ? unsent + " was not sent" + (csrf ? ": it is renewed now, so send it again." : ".")
      : "";
    part("kept").hidden = csrf;
    part("sign-in").hidden = csrf;
    part("dismiss").hidden = !csrf;
    if (detail.login) part("login").setAttribute("href", detail.login);
    banner.dataset.state = csrf ? "csrf" : "signed-out";
    banner.hidden = false;
  });

  // A request that succeeds again (the user signed in in another tab): say so, and what is
  // still not sent; nothing is resent by itself.
  function signedInAgain() {
    if (!banner || banner.hidden || banner.dataset.state !== "signed-out") return;
    banner.dataset.state = "signed-in";
    part("title").textContent = "You are signed in again.";
    part("unsent").textContent = unsent ? unsent + " was not sent: send it again if you still want it." : "";
    part("sign-in").hidden = true;
    part("dismiss").hidden = false;
    unsent = "";
  }

  if (banner) {
    part("dismiss").addEventListener("click", function () {
      banner.hidden = true;
      unsent = "";
    });
    part("sign-in-here").addEventListener("click", openSignIn);
  }

  // ---- Signing in again in place: the sign-in page's own form, sent from this page -------
  function signInDialog() {
    let dialog = document.getElementById("sign-in-dialog");
    if (dialog) return dialog;
    const template = document.getElementById("sign-in-template");
    if (!template) return null;
    document.body.appendChild(template.content.cloneNode(true));
    dialog = document.getElementById("sign-in-dialog");
    const form = dialog.querySelector("form");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const button = document.getElementById("sign-in-dialog-submit");
      button.disabled = true;
      signIn(dialog, form)
        .catch(function () { failed("The portal could not be reached: try again."); })
        .finally(function () { button.disabled = false; });
    });
    document.getElementById("sign-in-dialog-cancel").addEventListener("click", function () {
      dialog.close();
    });
    return dialog;
  }

  function openSignIn() {
    const dialog = signInDialog();
    if (!dialog || typeof dialog.showModal !== "function") {
      window.open(part("login").href, "_blank", "noopener");
      return;
    }
    document.getElementById("sign-in-dialog-error").hidden = true;
    dialog.showModal();
    document.getElementById("sign-in-dialog-username").focus();
  }

  function parse(html) {
    return new DOMParser().parseFromString(html, "text/html");
  }

  function failed(text) {
    const error = document.getElementById("sign-in-dialog-error");
    error.textContent = text;
    error.hidden = false;
  }

  async function signIn(dialog, form) {
    const loginPath = new URL(form.action, location.href).pathname;
    // The sign-in page first: it sets a CSRF cookie (cookies may have been cleared) and
    // carries the token its form needs.
    const page = await fetch(form.action, { credentials: "same-origin" });
    let doc = parse(await page.text());
    if (new URL(page.url).pathname === loginPath) {
      const token = doc.querySelector("input[name=csrfmiddlewaretoken]");
      const body = new URLSearchParams({
        username: form.elements.username.value,
        password: form.elements.password.value,
        csrfmiddlewaretoken: token ? token.value : "",
        next: location.pathname + location.search,
      });
      const answer = await fetch(form.action, { method: "POST", body: body, credentials: "same-origin" });
      doc = parse(await answer.text());
      if (new URL(answer.url).pathname === loginPath) {
        const alert = doc.querySelector("main .alert-error, main [role=alert]");
        failed(alert ? alert.textContent.replace(/\s+/g, " ").trim() : "Signing in did not work: check the username and password.");
        return;
      }
    } // else: already signed in again (in another tab)
    form.elements.password.value = "";
    dialog.close();
    useCsrf(csrfCookie());
    signedInAgain();
  }

  // ---- Unsaved input: leaving a half-typed form asks first -------------------------------
  function dirty(form) {
    if (!isWrite(form) || form.hasAttribute("data-unsaved-ignore")) return false;
    return Array.from(form.elements).some(function (el) {
      if (el.type === "hidden" || el.type === "submit" || el.type === "button") return false;
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      if (el.type === "file") return Boolean(el.files && el.files.length);
      if (el.tagName === "SELECT") {
        return Array.from(el.options).some(function (o) { return o.selected !== o.defaultSelected; });
      }
      return "defaultValue" in el && el.value !== el.defaultValue;
    });
  }

  function dirtyForms() {
    return Array.from(document.forms).filter(dirty);
  }

  // Listened for only from the first thing typed or picked in the page: while a page has a
  // beforeunload listener, the browser runs it before every navigation away, a round trip to
  // the page (3-5 ms in Chromium) before the next page's request leaves. An untouched page
  // has nothing to lose, so it leaves at once.
  let guarding = false;
  function guard() {
    if (guarding) return;
    guarding = true;
    window.addEventListener("beforeunload", function (event) {
      if (dirtyForms().some(function (form) { return form !== submitting; })) {
        event.preventDefault();
        event.returnValue = ""; // the browser says it its own way
      }
    });
  }
  document.addEventListener("input", guard, true);
  document.addEventListener("change", guard, true);

  // In the page: a request that would swap away a half-typed form (from outside it: inside
  // it, Save and Cancel are the user's own choice) asks first.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.defaultPrevented) return;
    const target = event.detail.target;
    const elt = event.detail.elt;
    if (!target || !target.contains) return;
    const lost = dirtyForms().filter(function (form) {
      return target.contains(form) && !form.contains(elt);
    });
    if (!lost.length) return;
    if (!window.confirm("What you typed in this page's form is not sent yet and would be lost. Go on anyway?")) {
      event.preventDefault();
    }
  });
})();
