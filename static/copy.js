// The console's copy buttons: progressive enhancement. The values are on the page as
// text, selectable without this script; with it, each button (hidden until then) copies
// its value. A served file rather than an inline script: the Content-Security-Policy
// forbids inline scripts.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = button.dataset.done;
    });
  });
});
