// Run by the desktop app on the Odoo login page: logs in with the stored password
// (same origin, so Odoo sets its own session cookie) and goes on to the POS.
(function (login) {
  if (window.__possyncLogin) {
    return "already";
  }
  window.__possyncLogin = true;
  var body = {
    jsonrpc: "2.0",
    method: "call",
    params: { db: login.db, login: login.login, password: login.password },
  };
  window
    .fetch("/web/session/authenticate", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    })
    .then(function (response) { return response.json(); })
    .then(function (answer) {
      if (answer.result && answer.result.uid) {
        window.location.replace(login.next);
      } else {
        refused();
      }
    })
    .catch(refused);
  return "started";

  function refused() {
    window.possyncBanner(
      "possync could not log in with the saved password. Log in here once, or change " +
        "the password in possync's Settings."
    );
  }
})(__LOGIN__);
