// The "Copy" button of the page that shows a new secret once (console/secret_once.html). A file, not an
// onclick attribute: the console's Content-Security-Policy runs no inline script.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("copy-secret");
  if (!button) {
    return;
  }
  button.addEventListener("click", function () {
    var secret = document.getElementById("client-secret").textContent;
    navigator.clipboard.writeText(secret).then(function () {
      button.textContent = button.dataset.copied;
    });
  });
});
