// otpgate portal: passkey ceremonies (WebAuthn). A form marked data-passkey="create" or
// "get" asks its data-passkey-options URL for the options (the challenge stays on the
// server), lets the browser talk to the passkey, puts PublicKeyCredential.toJSON() in
// the form's "credential" field and submits the form. Without support, the form says so.
"use strict";
(function () {
  function supported() {
    return window.PublicKeyCredential !== undefined &&
      typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function" &&
      typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function";
  }

  function say(form, text) {
    var line = form.querySelector(".passkey-error");
    line.textContent = text;
    line.hidden = false;
  }

  async function ceremony(form) {
    var body = new URLSearchParams();
    body.set("csrf_token", form.elements.csrf_token.value);
    var reply = await fetch(form.dataset.passkeyOptions, {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"Accept": "application/json"}
    });
    var data = await reply.json();
    if (!reply.ok) {
      if (data.redirect) { window.location.assign(data.redirect); return; }
      say(form, data.error);
      return;
    }
    var credential = form.dataset.passkey === "create"
      ? await navigator.credentials.create(
        {publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(data)})
      : await navigator.credentials.get(
        {publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(data)});
    form.elements.credential.value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      if (!supported()) {
        say(form, form.dataset.unsupportedText);
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        return;
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = form.querySelector("button[type=submit]");
        button.disabled = true;
        ceremony(form).catch(function () {
          say(form, form.dataset.failedText);
        }).finally(function () { button.disabled = false; });
      });
    });
  });
})();
