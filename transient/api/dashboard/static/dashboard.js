// The dashboard works without this file. With it: copy buttons, and the overview and
// health pages reload themselves every 30 s while visible (no inline script: CSP).
"use strict";
(function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy");
      var said = document.getElementById("copied");
      navigator.clipboard.writeText(text).then(function () {
        if (said) { said.textContent = button.getAttribute("data-done") || "Copied."; }
      }, function () {
        if (said) { said.textContent = "Select the text and copy it."; }
      });
    });
  });
  var main = document.querySelector("main[data-refresh]");
  if (main) {
    var seconds = parseInt(main.getAttribute("data-refresh"), 10) || 30;
    setInterval(function () {
      if (document.visibilityState === "visible" && !document.querySelector("form :focus")) {
        window.location.reload();
      }
    }, seconds * 1000);
  }
})();
