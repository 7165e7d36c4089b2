// The console's copy buttons (progressive enhancement: without JavaScript the buttons stay
// hidden and the values can be selected by hand). With it, each button copies the text of
// the element its `data-copy` names, then says so: its own `data-done` label, and the
// page's live `#copied` status for screen readers when there is one. A served file rather
// than an inline script, so the Content-Security-Policy can forbid inline scripts.
(function () {
  if (!navigator.clipboard) {
    return;
  }
  var status = document.getElementById("copied");
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        if (button.dataset.done) {
          button.textContent = button.dataset.done;
        }
        if (status) {
          status.textContent = status.getAttribute("data-copied");
        }
      });
    });
  });
})();
