/* A page that shows a secret once answers a POST directly (the secret is stored nowhere, so it cannot sit
   behind a redirect). Replacing this history entry with the page named in data-replace-url means that
   neither reload nor Back re-posts the form ("Confirm Form Resubmission"): they show that page instead. */
(function () {
  "use strict";
  var el = document.querySelector("[data-replace-url]");
  if (el && window.history && typeof window.history.replaceState === "function") {
    window.history.replaceState(null, "", el.getAttribute("data-replace-url"));
  }
})();
