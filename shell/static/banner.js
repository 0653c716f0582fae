// A notice bar the desktop app shows on top of any page (Odoo's included).
window.possyncBanner = window.possyncBanner || function (text) {
  var bar = document.getElementById("possync-banner") || document.createElement("div");
  bar.id = "possync-banner";
  bar.setAttribute("role", "alert");
  bar.textContent = text;
  bar.style.cssText =
    "position:fixed;left:0;right:0;top:0;z-index:2147483647;padding:10px 16px;" +
    "background:#b42318;color:#fff;font:600 14px/1.4 system-ui,sans-serif;" +
    "box-shadow:0 2px 6px rgba(0,0,0,.3);cursor:pointer"; // i18n: ignore (CSS)
  bar.onclick = function () { bar.remove(); };
  (document.body || document.documentElement).appendChild(bar);
};
