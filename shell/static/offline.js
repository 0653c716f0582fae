// Shown while the Odoo server does not answer: the agent's status, and an automatic
// retry that opens the POS as soon as the server is back. In "starting" mode it only
// shows progress; the app itself decides where to go.
(function () {
  var P = window.possyncPage;
  var $ = P.$;
  var t = window.possyncT;
  var starting = P.params.get("mode") === "starting";
  var RETRY_MS = 3000;
  var timer = null;

  function setPill(el, ok, text) {
    var span = document.createElement("span");
    span.className = "pill " + (ok ? "ok" : "bad");
    span.textContent = text;
    el.replaceChildren(span);
  }

  function spinning(el, text) {
    var spinner = document.createElement("span");
    spinner.className = "spinner";
    el.replaceChildren(spinner, document.createTextNode(text));
  }

  function peers(status) {
    var p = status && status.peers;
    if (Array.isArray(p)) return p.length;
    if (p && typeof p === "object") return Object.keys(p).length;
    return p || 0;
  }

  function render(state) {
    var server = state.server;
    var agent = state.agent;
    var status = agent.status || {};
    setPill($("server"), server.reachable, server.reachable ? t("answers") : t("does not answer"));
    $("pos").textContent = state.config_name || "–";
    setPill($("agent"), agent.running, agent.running
      ? (agent.restarts ? t("running (restarted {n}×)", { n: agent.restarts }) : t("running"))
      : t("not running"));
    $("pending").textContent = agent.status ? String(status.pending || 0) : "–";
    $("peers").textContent = agent.status ? String(peers(status)) : "–";
    $("last_sync").textContent = (status.server && status.server.last_sync) || "–";
    if (starting) return;
    $("title").textContent = t("The Odoo server does not answer");
    $("subtitle").textContent = server.url || "";
    if (server.reachable && state.pos_url) {
      spinning($("headline"), t("The server is back. Opening the POS…"));
      window.location.replace(state.pos_url);
      return;
    }
    spinning($("headline"), t("Retrying every few seconds…"));
    $("detail").textContent = server.message;
  }

  function poll() {
    window.clearTimeout(timer);
    P.api("state").then(render).catch(function () {}).then(function () {
      timer = window.setTimeout(poll, RETRY_MS);
    });
  }

  $("retry").addEventListener("click", poll);
  $("settings").addEventListener("click", function () { P.api("settings"); });
  poll();
})();
