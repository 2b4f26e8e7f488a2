// The portal's own behaviour. No inline scripts anywhere (strict CSP): everything lives here.
(function () {
  "use strict";

  // Tell the server the viewer's time zone, so times are shown in it.
  try {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && !document.cookie.split("; ").includes("portal_tz=" + tz)) {
      document.cookie = "portal_tz=" + tz + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) {
    /* no time zone: server time it is */
  }

  // Confirmations: any element with hx-confirm="question" asks in the page's <dialog>
  // instead of window.confirm. data-confirm-label names the confirming button ("Reboot"),
  // data-confirm-danger marks it as destructive. Escape or Cancel sends nothing.
  document.addEventListener("htmx:confirm", function (event) {
    const question = event.detail.question;
    const dialog = document.getElementById("confirm-dialog");
    if (!question || !dialog || typeof dialog.showModal !== "function") return;
    event.preventDefault();
    const source = event.detail.elt;
    const origin = document.activeElement;
    const confirmButton = document.getElementById("confirm-dialog-confirm");
    document.getElementById("confirm-dialog-question").textContent = question;
    confirmButton.textContent = source.getAttribute("data-confirm-label") || "Confirm";
    confirmButton.classList.toggle("danger", source.hasAttribute("data-confirm-danger"));
    confirmButton.classList.toggle("primary", !source.hasAttribute("data-confirm-danger"));
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      function () {
        if (dialog.returnValue === "confirm") {
          event.detail.issueRequest(true);
        } else if (origin && typeof origin.focus === "function") {
          origin.focus();
        }
      },
      { once: true }
    );
    dialog.showModal();
    document.getElementById("confirm-dialog-cancel").focus();
  });

  // A select with data-warn-empty="id" shows the element with that id while nothing is
  // chosen (a user without an API token, on the users' forms). The server renders the
  // warning's first state, so it is right without JavaScript too.
  document.addEventListener("change", function (event) {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.dataset.warnEmpty) return;
    const warning = document.getElementById(select.dataset.warnEmpty);
    if (warning) warning.hidden = select.value !== "";
  });
})();
