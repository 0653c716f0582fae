// The manager PIN prompt of a kiosk: shown before Settings and Quit. The app checks the
// PIN (shell/kiosk.py) and, when it is right, opens Settings or quits; this page only
// collects the digits and shows the answer, and counts down while the prompt is locked.
(function () {
  var P = window.possyncPage;
  var $ = P.$;
  var t = window.possyncT;
  var then = P.params.get("then") || "settings";
  var timer = null;

  $("why").textContent = then === "quit"
    ? t("Give the manager PIN to quit possync.")
    : t("Give the manager PIN to open the settings.");
  var message = P.params.get("message");
  if (message) P.note($("message"), "warn", message);

  function lockFor(seconds) {
    window.clearInterval(timer);
    var left = seconds;
    function tick() {
      var locked = left > 0;
      $("ok").disabled = locked;
      $("pin").disabled = locked;
      if (locked) P.note($("pin_note"), "bad", t("Too many wrong PINs. Try again in {seconds} s.", { seconds: left }));
      else if ($("pin_note").classList.contains("bad")) P.note($("pin_note"), "", "");
      if (!locked) window.clearInterval(timer);
      left -= 1;
    }
    tick();
    if (seconds > 0) timer = window.setInterval(tick, 1000);
  }

  function submit() {
    var pin = $("pin").value;
    $("pin").value = "";
    if (!pin) return;
    $("ok").disabled = true;
    P.api("unlock", { pin: pin, then: then }).then(function (answer) {
      $("ok").disabled = false;
      if (answer.ok) {
        P.note($("pin_note"), "ok", then === "quit" ? t("Closing possync…") : t("Opening the settings…"));
        return;
      }
      if (answer.wait_s) lockFor(answer.wait_s);
      else P.note($("pin_note"), "bad", answer.message || t("Wrong PIN."));
    });
  }

  $("keypad").addEventListener("click", function (e) {
    var key = e.target.dataset && e.target.dataset.key;
    if (!key) return;
    if (key === "ok") submit();
    else if (key === "clear") $("pin").value = "";
    else if ($("pin").value.length < 8) $("pin").value += key;
  });
  $("pin").addEventListener("keydown", function (e) { if (e.key === "Enter") submit(); });
  $("back").addEventListener("click", function () { P.api("pin_back"); });

  P.api("pin_state").then(function (answer) {
    lockFor(answer.wait_s || 0);
    $("pin").focus();
    document.body.dataset.ready = "1";
  });
})();
