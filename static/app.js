// Sync 365 portal: progressive enhancement only. Every page works without this file.
"use strict";

// The + PSA Tools form: switch between the ConnectWise and Autotask fieldsets without a
// reload. Without JavaScript the two links reload the page with the other type.
(function psaSwitch() {
  const form = document.getElementById("psa-form");
  const typeField = document.getElementById("psa_type");
  const links = document.querySelectorAll("a[data-psa-type]");
  if (!form || !typeField || links.length === 0) {
    return;
  }
  function show(type) {
    typeField.value = type;
    form.querySelectorAll("fieldset[data-psa]").forEach(function (fs) {
      fs.hidden = fs.dataset.psa !== type;
    });
    links.forEach(function (a) {
      if (a.dataset.psaType === type) {
        a.setAttribute("aria-current", "page");
      } else {
        a.removeAttribute("aria-current");
      }
    });
  }
  links.forEach(function (a) {
    a.addEventListener("click", function (event) {
      event.preventDefault();
      show(a.dataset.psaType);
      history.replaceState(null, "", a.href);
    });
  });
})();

// A connection's page: while a run is queued or running, poll status.json every 2 s and move
// the progress bars and counts. Without JavaScript the page offers a Refresh link instead.
(function runProgress() {
  const section = document.querySelector("[data-status-url]");
  const badge = document.getElementById("run-state");
  if (!section || !badge) {
    return;
  }
  const url = section.dataset.statusUrl;
  const active = function (state) {
    return state === "queued" || state === "running";
  };
  if (!active(badge.textContent.trim())) {
    return;
  }
  function update(status) {
    badge.textContent = status.state;
    badge.className = "badge " + status.state;
    const error = document.getElementById("run-error");
    if (error) {
      error.textContent = status.error || "";
    }
    ["customers", "agreements", "agreement_lines", "products"].forEach(function (key) {
      const count = section.querySelector('[data-count="' + key + '"]');
      if (count) {
        count.textContent = String(status[key]);
      }
      const phase = status.progress && status.progress[key];
      const bar = section.querySelector('progress[data-phase="' + key + '"]');
      if (bar && phase) {
        if (phase.total) {
          bar.max = phase.total;
          bar.value = phase.done;
        } else {
          bar.removeAttribute("value");
        }
      }
      const label = section.querySelector('[data-phase-count="' + key + '"]');
      if (label && phase) {
        label.textContent = phase.total ? phase.done + " of " + phase.total : String(phase.done);
      }
    });
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        return resp.ok ? resp.json() : Promise.reject(resp.status);
      })
      .then(function (status) {
        update(status);
        if (active(status.state)) {
          setTimeout(poll, 2000);
        } else {
          // The run ended: reload once so the run history and counts are the stored ones.
          window.location.reload();
        }
      })
      .catch(function () {
        setTimeout(poll, 10000);
      });
  }
  setTimeout(poll, 2000);
})();

// Testing calls the PSA and can take seconds: say so on the button that was pressed, and
// stop a second click from sending the form twice.
(function busyButtons() {
  const form = document.getElementById("psa-form");
  if (!form) {
    return;
  }
  form.addEventListener("submit", function (event) {
    const button = event.submitter;
    if (!button || form.dataset.busy === "1") {
      if (form.dataset.busy === "1") {
        event.preventDefault();
      }
      return;
    }
    form.dataset.busy = "1";
    // The pressed button's name/value must still be sent, so it is not disabled.
    button.setAttribute("aria-busy", "true");
    button.textContent = "Testing…";
  });
})();
