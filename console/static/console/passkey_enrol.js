// After django-otp-webauthn registers a passkey: on to the recovery codes (a file, not an inline script,
// so the console's Content-Security-Policy allows it).
document.addEventListener("otp_webauthn.register_complete", function () {
  const target = document.getElementById("passkey-enrol-done");
  if (target) window.location.href = target.dataset.href;
});
