// The self-test page: proves the app injected the agent's address and token, and that a
// change makes the round trip page → agent → page over the agent's WebSocket
// (hello / welcome, push / ack, then read back by a second connection).
(function () {
  var P = window.possyncPage;
  var steps = [];
  var agentEvents = 0;
  var STEP_TIMEOUT_MS = 10000;

  window.addEventListener("possync:agent", function () { agentEvents += 1; });

  function record(name, ok, detail) {
    steps.push({ name: name, ok: ok, detail: detail || "" });
    var li = document.createElement("li");
    li.className = ok ? "pass" : "fail";
    li.innerHTML = '<span class="icon"></span><span class="name"></span><span class="msg"></span>';
    li.querySelector(".icon").textContent = ok ? "✓" : "✗";
    li.querySelector(".name").textContent = name;
    li.querySelector(".msg").textContent = detail || "";
    P.$("steps").appendChild(li);
    return ok;
  }

  function within(ms, what, executor) {
    return new Promise(function (resolve, reject) {
      var timer = window.setTimeout(function () { reject(new Error(what + ": no answer")); }, ms);
      executor(function (value) { window.clearTimeout(timer); resolve(value); }, reject);
    });
  }

  function waitForAgent() {
    return within(STEP_TIMEOUT_MS, "injection", function (resolve) {
      (function check() {
        if (window.possyncAgent) resolve(window.possyncAgent);
        else window.setTimeout(check, 50);
      })();
    });
  }

  // One WebSocket connection that answers the next message of a given type.
  function connect(agent) {
    return within(STEP_TIMEOUT_MS, "connect", function (resolve, reject) {
      var ws = new WebSocket(agent.url + "?token=" + encodeURIComponent(agent.token));
      var waiting = [];
      ws.onmessage = function (event) {
        var message = JSON.parse(event.data);
        waiting = waiting.filter(function (w) { return !w(message); });
      };
      ws.onerror = function () { reject(new Error("the agent refused the WebSocket")); };
      ws.onopen = function () {
        resolve({
          send: function (m) { ws.send(JSON.stringify(m)); },
          next: function (test, what) {
            return within(STEP_TIMEOUT_MS, what, function (ok) {
              waiting.push(function (m) { if (test(m)) { ok(m); return true; } return false; });
            });
          },
          close: function () { ws.close(); },
        });
      };
    });
  }

  function randomId() {
    return Array.from(window.crypto.getRandomValues(new Uint8Array(16)), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function change(terminal) {
    return {
      v: 1,
      id: randomId(),
      terminal: terminal,
      hlc: String(Date.now()).padStart(15, "0") + "-00000",
      order: "selftest-" + randomId(),
      ops: [{ op: "order.set", field: "customer_count", value: 1 }],
    };
  }

  function run() {
    var agent, first, sent, welcome;
    return waitForAgent()
      .then(function (a) {
        agent = a;
        record("injection", agentEvents <= 1 && /^ws:\/\/127\.0\.0\.1:\d+\/page$/.test(a.url),
          a.url + " (" + agentEvents + " possync:agent event)");
        return connect(agent);
      })
      .then(function (ws) {
        first = ws;
        first.send({ type: "hello", v: 1, since: 0 });
        return first.next(function (m) { return m.type === "welcome"; }, "welcome");
      })
      .then(function (w) {
        welcome = w;
        record("hello", true, "terminal " + w.terminal);
        sent = change(w.terminal);
        first.send({ type: "push", changes: [sent] });
        return first.next(function (m) {
          return (m.type === "ack" && m.ids.indexOf(sent.id) >= 0) || m.type === "error";
        }, "ack");
      })
      .then(function (answer) {
        if (answer.type === "error") throw new Error("agent error " + answer.error + ": " + answer.detail);
        record("push / ack", true, "change " + sent.id.slice(0, 8) + " acknowledged");
        first.close();
        return connect(agent);
      })
      .then(function (second) {
        second.send({ type: "hello", v: 1, since: welcome.seq || 0 });
        return second.next(function (m) {
          return m.type === "changes" && m.changes.some(function (c) { return c.change.id === sent.id; });
        }, "read back").then(function () { second.close(); });
      })
      .then(function () { record("read back", true, "a second connection received the change"); })
      .catch(function (error) { record("round trip", false, error.message); })
      .then(function () {
        var ok = steps.length > 0 && steps.every(function (s) { return s.ok; });
        document.body.dataset.result = ok ? "pass" : "fail";
        return P.api("selftest", { ok: ok, steps: steps });
      });
  }

  run();
})();
