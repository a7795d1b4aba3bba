/* Progressive enhancement only: every page works without this file.
   - forms with data-autosubmit submit when one of their controls changes (consent switches);
   - elements with data-poll-url poll a JSON status endpoint and update a <progress>; when the job ends the
     page reloads so the server renders the download link;
   - buttons with data-confirm ask before submitting (the server asks again on a confirmation page for erasure). */
(function () {
  "use strict";

  function autosubmit(form) {
    form.classList.add("js-autosubmit");
    var submit = form.querySelector("[data-autosubmit-button]");
    if (submit) { submit.hidden = true; }
    form.addEventListener("change", function () {
      if (form.dataset.submitting) { return; }
      form.dataset.submitting = "1";
      if (typeof form.requestSubmit === "function") { form.requestSubmit(); } else { form.submit(); }
    });
  }

  function poll(el) {
    var url = el.getAttribute("data-poll-url");
    var bar = el.querySelector("progress");
    var label = el.querySelector("[data-poll-label]");
    var delay = 1000;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          if (bar && typeof data.done === "number" && data.total) {
            bar.max = data.total; bar.value = data.done;
          }
          if (label && data.message) { label.textContent = data.message; }
          if (data.finished) { window.location.reload(); return; }
          delay = Math.min(delay * 1.5, 5000);
          window.setTimeout(tick, delay);
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    }
    window.setTimeout(tick, delay);
  }

  function confirmer(button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  }

  document.querySelectorAll("form[data-autosubmit]").forEach(autosubmit);
  document.querySelectorAll("[data-poll-url]").forEach(poll);
  document.querySelectorAll("[data-confirm]").forEach(confirmer);
})();
