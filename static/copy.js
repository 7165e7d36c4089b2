// Copy buttons of the console (progressive enhancement: without JavaScript the buttons
// stay hidden and the values can be selected by hand). A served file rather than an
// inline script, so the Content-Security-Policy can forbid inline scripts.
(function () {
  if (!navigator.clipboard) {
    return;
  }
  var status = document.getElementById("copied");
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(function () {
        if (status) {
          status.textContent = status.getAttribute("data-copied");
        }
      });
    });
  });
})();
