/* Progressive enhancement only: every page works without this file.
   - forms with data-autosubmit submit when one of their controls changes (consent switches);
   - elements with data-poll-url poll a JSON status endpoint and update a <progress>; when the job ends the
     page reloads so the server renders the download link;
   - buttons with data-confirm ask before submitting (the server asks again on a confirmation page for erasure);
   - consent switches (form[data-consent-switch]) save in place with fetch, so keyboard focus stays on the switch,
     and the result is announced in the page's live region (#consent-status); anything unexpected (an ended
     session, a network error) falls back to the ordinary form post, whose page says what happened;
   - [data-print] buttons print the page; [data-copy] buttons copy the text of the element they name;
     [data-download] buttons save that text as a file;
   - table.records become stacked cards on narrow screens (CSS display:block), which makes browsers forget
     that they are tables; explicit ARIA roles keep rows, headers and cells announced as such. */
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

  function consentSwitch(form) {
    var submit = form.querySelector("[data-autosubmit-button]");
    if (submit) { submit.hidden = true; }
    var box = form.querySelector("input[type=checkbox]");
    var state = form.querySelector("[data-switch-state]");
    var live = document.getElementById("consent-status");
    function fallback() { form.submit(); }  // the full post: the server redirects to a page saying what happened
    box.addEventListener("change", function () {
      if (form.dataset.saving) { return; }
      form.dataset.saving = "1";
      box.setAttribute("aria-busy", "true");
      if (live) { live.textContent = form.getAttribute("data-saving-text") || "Saving…"; }
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        redirect: "manual",
        headers: { "Accept": "application/json" }
      }).then(function (r) {
        var type = r.headers.get("Content-Type") || "";
        if (!r.ok || type.indexOf("application/json") !== 0) { throw new Error("not saved"); }
        return r.json();
      }).then(function (data) {
        box.checked = !!data.allowed;
        if (state) { state.textContent = data.state_label || (data.allowed ? "On" : "Off"); }
        if (live) {
          live.textContent = "";
          var p = document.createElement("p");
          p.className = "notice notice--success";
          p.textContent = data.message + " ";
          var a = document.createElement("a");
          a.href = data.receipt_url;
          a.textContent = data.receipt_label || "See the receipt";
          p.appendChild(a);
          live.appendChild(p);
        }
        box.removeAttribute("aria-busy");
        delete form.dataset.saving;
      }).catch(fallback);
    });
  }

  function printer(button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  function copier(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var live = document.getElementById(button.getAttribute("data-copy-status"));
    if (!source || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.innerText.trim()).then(function () {
        if (live) { live.textContent = "Copied."; }
      }, function () {
        if (live) { live.textContent = "Copying did not work; select the codes and copy them yourself."; }
      });
    });
  }

  function downloader(button) {
    var source = document.getElementById(button.getAttribute("data-download"));
    if (!source) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var blob = new Blob([source.innerText.trim() + "\n"], { type: "text/plain" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = button.getAttribute("data-filename") || "download.txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    });
  }

  function tableRoles(table) {
    table.setAttribute("role", "table");
    table.querySelectorAll("thead, tbody, tfoot").forEach(function (group) { group.setAttribute("role", "rowgroup"); });
    table.querySelectorAll("tr").forEach(function (row) { row.setAttribute("role", "row"); });
    table.querySelectorAll("th").forEach(function (th) {
      var column = th.getAttribute("scope") === "col" || th.closest("thead");
      th.setAttribute("role", column ? "columnheader" : "rowheader");
    });
    table.querySelectorAll("td").forEach(function (td) { td.setAttribute("role", "cell"); });
  }

  document.querySelectorAll("form[data-autosubmit]").forEach(autosubmit);
  document.querySelectorAll("form[data-consent-switch]").forEach(consentSwitch);
  document.querySelectorAll("[data-print]").forEach(printer);
  document.querySelectorAll("[data-copy]").forEach(copier);
  document.querySelectorAll("[data-download]").forEach(downloader);
  document.querySelectorAll("[data-poll-url]").forEach(poll);
  document.querySelectorAll("[data-confirm]").forEach(confirmer);
  document.querySelectorAll("table.records").forEach(tableRoles);
})();
