// Shared by possync's own pages: the per-launch UI token (from the URL fragment, which
// is never sent anywhere), the page's parameters (from the query) and the local API.
(function () {
  var token = new URLSearchParams(window.location.hash.slice(1)).get("token") || "";
  window.possyncPage = {
    params: new URLSearchParams(window.location.search),
    api: function (name, body) {
      return window
        .fetch("/api/" + name, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-Possync-Ui": token },
          body: JSON.stringify(body || {}),
        })
        .then(function (response) { return response.json(); });
    },
    $: function (id) { return document.getElementById(id); },
    note: function (el, kind, message, what) {
      el.className = "note " + kind;
      el.textContent = message || "";
      if (what) {
        var span = document.createElement("span");
        span.className = "what";
        span.textContent = what;
        el.appendChild(span);
      }
    },
  };
})();
