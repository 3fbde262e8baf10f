// The upload form, improved: drag and drop onto the file field, a size check before sending,
// and a progress indicator while the server reviews. Without this file the form still works
// as a plain POST. Served from the same origin so the CSP can forbid inline scripts.
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("review-form");
  if (!form) return;
  const input = document.getElementById("file");
  const drop = document.getElementById("drop");
  const status = document.getElementById("file-status");
  const progress = document.getElementById("progress");
  const progressText = document.getElementById("progress-text");
  const button = document.getElementById("submit");
  const maxBytes = Number(form.dataset.maxBytes);
  let timer = null;

  const megabytes = (n) => (n / 1048576).toFixed(n < 1048576 ? 2 : 1) + " MB";

  function check() {
    const file = input.files && input.files[0];
    status.classList.remove("bad");
    input.setCustomValidity("");
    if (!file) {
      status.textContent = "";
      return;
    }
    if (file.size > maxBytes) {
      // Refused here rather than after sending it: the server would answer 413 anyway.
      status.textContent = form.dataset.tooBig + " (" + megabytes(file.size) + ")";
      status.classList.add("bad");
      input.setCustomValidity(form.dataset.tooBig);
      return;
    }
    status.textContent = form.dataset.selected + ": " + file.name + " (" + megabytes(file.size) + ")";
  }

  input.addEventListener("change", check);

  ["dragenter", "dragover"].forEach((type) =>
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("dragging");
    })
  );
  ["dragleave", "dragend"].forEach((type) =>
    drop.addEventListener(type, () => drop.classList.remove("dragging"))
  );
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("dragging");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) {
      input.files = files;
      check();
      input.focus();
    }
  });
  // A file dropped elsewhere on the page must not make the browser navigate away to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());

  form.addEventListener("submit", (event) => {
    if (!form.checkValidity()) return;
    if (form.dataset.busy) {
      event.preventDefault(); // one review at a time
      return;
    }
    form.dataset.busy = "1";
    form.setAttribute("aria-busy", "true");
    button.disabled = true; // the button has no name: disabling it drops nothing from the form
    progress.hidden = false;
    const started = Date.now();
    const tick = () => {
      const seconds = Math.floor((Date.now() - started) / 1000);
      progressText.textContent =
        form.dataset.progress + " " + form.dataset.seconds.replace("{s}", String(seconds));
    };
    tick();
    timer = window.setInterval(tick, 1000);
  });

  // Back from the report (page cache): the form is usable again.
  window.addEventListener("pageshow", () => {
    if (timer) window.clearInterval(timer);
    timer = null;
    delete form.dataset.busy;
    form.removeAttribute("aria-busy");
    button.disabled = false;
    progress.hidden = true;
  });
});
