// The live part of a job's page and of a rollout's (templates/fleet/job.html, rollout.html),
// redrawn every few seconds.
(function () {
  "use strict";

  function live(elt) {
    return elt && (elt.id === "job-live" || elt.id === "rollout-live");
  }

  // No redraw while the confirmation dialog asks (Cancel, Retry, Start, Abort...): the form that
  // asked lives in the live part. Nor while the tab is hidden.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!live(event.detail.elt)) return;
    const dialog = document.getElementById("confirm-dialog");
    if (document.hidden || (dialog && dialog.open)) event.preventDefault();
  });

  // Nor a redraw from a read already in flight when the dialog opened: it would replace the
  // form that asked, and htmx sends nothing for a form no longer in the page (the answer is
  // dropped; the next poll brings the page up to date).
  document.addEventListener("htmx:beforeSwap", function (event) {
    const dialog = document.getElementById("confirm-dialog");
    if (live(event.detail.target) && dialog && dialog.open) event.detail.shouldSwap = false;
  });

  // The focus stays where it was (a filter link, a button) across a redraw.
  let focused = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!event.detail.shouldSwap) return;
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
