// A rollout's page (templates/fleet/rollout.html): its live part is redrawn every few
// seconds, like a job's (static/fleet/jobs.js).
(function () {
  "use strict";

  function live(elt) {
    return elt && elt.id === "rollout-live";
  }

  // No redraw while the confirmation dialog asks (Start, Abort, Promote...): the form that
  // asked lives in the live part. Nor while the tab is hidden.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!live(event.detail.elt)) return;
    const dialog = document.getElementById("confirm-dialog");
    if (document.hidden || (dialog && dialog.open)) event.preventDefault();
  });

  // The focus stays where it was (a filter link, a button) across a redraw.
  let focused = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    const active = document.activeElement;
    focused = live(event.detail.target) && active && active.id && event.detail.target.contains(active)
      ? active.id
      : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!focused) return;
    const again = document.getElementById(focused);
    focused = null;
    if (again && document.activeElement !== again) again.focus();
  });
})();
