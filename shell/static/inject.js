// Injected by the possync desktop app into every page load of the Odoo server. Hands the
// local agent's address and per-launch token to the pos_restaurant_sync addon's script,
// which then moves its transport to the agent. The guard keeps it to exactly once per
// page load, however often the app runs it.
(function (agent, origin, addonWatch, addonMissing) {
  // The app sends this only while the browser shows the server; this checks the document
  // it lands in, first and with nothing a page can replace (location is unforgeable, ===
  // calls no page code).
  if (window.location.origin !== origin) {
    return "skipped";
  }
  if (window.__possyncInjected) {
    return "already";
  }
  window.__possyncInjected = true;
  window.possyncAgent = { url: agent.url, token: agent.token };
  window.dispatchEvent(new CustomEvent("possync:agent", { detail: window.possyncAgent }));
  if (addonWatch && window.location.pathname.indexOf("/pos/") === 0) {
    watchForAddon();
  }
  return "injected";

  // Once Odoo's POS runs (window.posmodel), the addon's script must be there too
  // (window.possync); if it is not, the server lacks the addon: say so.
  function watchForAddon() {
    var tries = 0;
    var timer = window.setInterval(function () {
      tries += 1;
      if (window.possync) {
        window.clearInterval(timer);
      } else if (window.posmodel || tries > 120) {
        window.clearInterval(timer);
        window.possyncBanner(addonMissing);
      }
    }, 1000);
  }
})(__AGENT__, __ORIGIN__, __ADDON_WATCH__, __ADDON_MISSING__);
