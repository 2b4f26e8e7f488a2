// The firmware panel's behaviour: image checks when a file is picked, the 4 MB limit before
// sending, the upload progress bar, md5 copy buttons. No inline scripts (strict CSP).
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  function uploadFormOf(element) {
    return element && element.closest ? element.closest("form[data-firmware-upload]") : null;
  }

  function showError(box, text) {
    const alert = document.createElement("div");
    alert.className = "alert alert-error";
    alert.setAttribute("role", "alert");
    const paragraph = document.createElement("p");
    paragraph.textContent = text;
    alert.appendChild(paragraph);
    box.replaceChildren(alert);
  }

  function tooLarge(form) {
    const input = form.querySelector("input[data-firmware-file]");
    const file = input && input.files && input.files[0];
    return file && file.size > Number(form.dataset.maxBytes) ? input : null;
  }

  // The version field follows the file picked (its app description's version) until the
  // user types in it: what they typed is theirs, and no file replaces it. The version a file
  // put there is remembered, so the next file can tell it from the user's.
  function offerVersion(form, suggested) {
    const version = form.querySelector("input[name=version]");
    if (!version) return;
    const ours = version.value === "" || version.value === (version.dataset.fromFile || "");
    if (!ours) return;
    version.value = suggested;
    version.dataset.fromFile = suggested;
  }

  // Picking a file: refuse one over 4 MB at once; otherwise post its first bytes to the
  // server's checks and show what they found (offering the app description's version).
  document.addEventListener("change", function (event) {
    const input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-firmware-file]")) return;
    const form = uploadFormOf(input);
    const box = form.querySelector("[data-image-check]");
    const file = input.files && input.files[0];
    input.setCustomValidity("");
    box.replaceChildren();
    // The previous file's version goes at once: an upload before the check answers must
    // not carry it.
    offerVersion(form, "");
    if (!file) return;
    if (file.size > Number(form.dataset.maxBytes)) {
      input.setCustomValidity(form.dataset.tooLarge);
      showError(box, form.dataset.tooLarge);
      return;
    }
    const data = new FormData();
    data.append("head", file.slice(0, Number(form.dataset.headBytes)), "head.bin");
    data.append("size", String(file.size));
    box.setAttribute("aria-busy", "true");
    fetch(form.dataset.checkUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "HX-Request": "true" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        if (!input.files || input.files[0] !== file) return; // another file was picked since
        box.innerHTML = html; // the server's own escaped fragment
        const app = box.querySelector("[data-suggested-version]");
        offerVersion(form, (app && app.dataset.suggestedVersion) || "");
      })
      .catch(function () {
        if (input.files && input.files[0] === file) {
          showError(box, "The file could not be checked here; it will be checked on upload.");
        }
      })
      .finally(function () {
        box.removeAttribute("aria-busy");
      });
  });

  // The limit again, for any request from the upload form (the roll-out button too).
  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = uploadFormOf(event.detail.elt);
    if (!form) return;
    const input = tooLarge(form);
    if (input) {
      event.preventDefault();
      input.setCustomValidity(form.dataset.tooLarge);
      showError(form.querySelector("[data-image-check]"), form.dataset.tooLarge);
    }
  });

  function progressOf(event) {
    const form = uploadFormOf(event.target);
    return form ? [form.querySelector("[data-upload-progress]"), form.querySelector("#upload-progress-text")] : [];
  }

  document.addEventListener("htmx:xhr:loadstart", function (event) {
    const [bar, text] = progressOf(event);
    if (!bar) return;
    bar.hidden = false;
    bar.value = 0;
    text.textContent = "Sending…";
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    const [bar, text] = progressOf(event);
    if (!bar || !event.detail.lengthComputable || !event.detail.total) return;
    const share = event.detail.loaded / event.detail.total;
    bar.hidden = false;
    bar.value = share;
    text.textContent = "Sent " + Math.round(share * 100) + "%";
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const [bar, text] = progressOf(event);
    if (!bar || bar.hidden) return;
    bar.value = 1;
    text.textContent = event.detail.successful ? "Sent 100%" : "Not sent";
  });

  // After a successful upload the server says so (HX-Trigger): start the form afresh.
  document.body.addEventListener("firmware-uploaded", function () {
    const form = document.getElementById("upload-form");
    if (!form) return;
    form.reset();
    delete form.querySelector("input[name=version]").dataset.fromFile;
    form.querySelector("[data-image-check]").replaceChildren();
  });

  // md5 copy buttons: shown only where JavaScript can copy.
  function revealCopyButtons(root) {
    root.querySelectorAll("button[data-copy][hidden]").forEach(function (button) {
      button.hidden = !(navigator.clipboard && window.isSecureContext);
    });
  }
  document.addEventListener("htmx:load", function (event) {
    revealCopyButtons(event.detail.elt.parentElement || document);
  });
  document.addEventListener("DOMContentLoaded", function () {
    revealCopyButtons(document);
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.textContent = "Copied";
      setTimeout(function () {
        button.textContent = "Copy";
      }, 1500);
    });
  });
})();
