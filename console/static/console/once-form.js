/* A one-time form reached again by Back or Forward carries the key it was sent with (console/once.py).
   As the form is sent, its key goes into this history entry's state; when the entry is shown again, the
   key goes back into the form, even if the browser fetched the page anew (a new visit, a click or a
   typed address, starts a new entry with a new key). Sending it again then gets the server's page saying
   what was already done, instead of doing it twice. */
(function () {
  "use strict";
  const input = document.querySelector("input[name=form_key]");
  if (!input || !input.form) {
    return;
  }
  const navigation = performance.getEntriesByType("navigation")[0];
  const sent = (history.state || {}).consoleFormKey;
  if (navigation && navigation.type === "back_forward" && sent) {
    input.value = sent;
  }
  input.form.addEventListener("submit", function () {
    history.replaceState(Object.assign({}, history.state, { consoleFormKey: input.value }), "");
  });
})();
