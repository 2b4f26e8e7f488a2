// Device pages: inline editing keys, live JSON checks, polite polling, focus after swaps.
// No inline scripts anywhere (strict CSP): the templates only carry data- attributes.
(function () {
  "use strict";

  // Inline editing: Escape cancels (back to the shown value), Enter saves. In the
  // description's textarea Shift+Enter still makes a new line.
  document.addEventListener("keydown", function (event) {
    const form = event.target.closest && event.target.closest("form.inline-edit");
    if (!form) return;
    if (event.key === "Escape") {
      const cancel = form.querySelector("[data-inline-cancel]");
      if (cancel) {
        event.preventDefault();
        cancel.click();
      }
    } else if (event.key === "Enter" && !event.shiftKey && event.target.matches("[data-enter-submits]")) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  // JSON payloads: say what is wrong, and on which line, while the user types. The server
  // checks again (it has the last word); this only saves a round trip.
  function lineOf(text, message) {
    const line = /line (\d+)/.exec(message);
    if (line) return Number(line[1]);
    const position = /position (\d+)/.exec(message);
    if (position) return text.slice(0, Number(position[1])).split("\n").length;
    return null;
  }

  function checkPayload(area) {
    const hint = document.getElementById(area.id + "_hint");
    const text = area.value;
    let problem = "";
    if (new TextEncoder().encode(text).length > Number(area.dataset.maxBytes || 8192)) {
      problem = "The payload is larger than 8 KB.";
    } else if (text.trim()) {
      try {
        const value = JSON.parse(text);
        if (value === null || typeof value !== "object" || Array.isArray(value)) {
          problem = "The payload must be a JSON object, like {\"relay\": \"on\"}.";
        }
      } catch (error) {
        const line = lineOf(text, String(error.message));
        problem = (line ? "Line " + line + ": " : "") + "this is not valid JSON yet.";
      }
    }
    area.setAttribute("aria-invalid", problem ? "true" : "false");
    if (hint) {
      if (!hint.dataset.original) hint.dataset.original = hint.textContent;
      hint.textContent = problem || hint.dataset.original;
      hint.classList.toggle("field-error", Boolean(problem));
    }
  }

  let timer = null;
  document.addEventListener("input", function (event) {
    const area = event.target;
    if (!area.matches || !area.matches("textarea[data-json-object]")) return;
    clearTimeout(timer);
    timer = setTimeout(function () { checkPayload(area); }, 300);
  });

  // Polling: nobody reads a hidden tab, so it does not ask the upstream for anything.
  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    if (document.hidden && elt && elt.hasAttribute && elt.hasAttribute("data-poll")) {
      event.preventDefault();
    }
  });

  // A panel that cannot load says so in its place; the rest of the page carries on.
  function panelFailed(event) {
    const elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-panel")) return;
    elt.removeAttribute("aria-busy");
    const note = elt.querySelector("p") || elt.appendChild(document.createElement("p"));
    note.className = "alert alert-error";
    note.setAttribute("role", "alert");
    note.textContent = "The " + elt.dataset.panel.toLowerCase() + " panel could not be loaded. Reload the page to try again.";
  }
  document.addEventListener("htmx:responseError", panelFailed);
  document.addEventListener("htmx:sendError", panelFailed);
  document.addEventListener("htmx:beforeSwap", function (event) {
    // A 5xx page must not be swapped into a panel.
    if (event.detail.xhr.status >= 500) {
      event.detail.shouldSwap = false;
      panelFailed(event);
    }
  });

  // Focus after a swap: if the focused element went away with the old content, put focus
  // somewhere sensible in the new content instead of dropping it to <body>. A panel that
  // loads while the user is elsewhere never takes the focus.
  let focusedBeforeSwap = null;
  document.addEventListener("htmx:beforeSwap", function () {
    focusedBeforeSwap = document.activeElement;
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    const lost = focusedBeforeSwap;
    focusedBeforeSwap = null;
    if (!lost || lost === document.body || document.contains(lost)) return;
    const active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    let target = event.detail.target;
    // An outerHTML swap replaced the target itself: find its successor by id.
    if (target && !document.contains(target) && target.id) target = document.getElementById(target.id);
    if (!target || !document.contains(target)) return;
    const next =
      target.querySelector("[autofocus]") ||
      target.querySelector(".inline-value") ||
      target.querySelector("[role=alert]") ||
      target.querySelector("h2[tabindex]");
    if (!next) return;
    if (next.matches("[role=alert]") && !next.hasAttribute("tabindex")) next.setAttribute("tabindex", "-1");
    next.focus();
  });
})();
