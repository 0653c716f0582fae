// The setup screen: server → database → login → POS, then test and save.
(function () {
  var P = window.possyncPage;
  var $ = P.$;
  var t = window.possyncT;
  var state = { odooMajor: 19, keyringOk: true, configured: false };

  function fail(el, answer) {
    var error = answer.error || { message: String(answer), hint: "" };
    P.note(el, "bad", error.message, error.hint);
  }

  function busy(button, text) {
    var label = button.textContent;
    button.disabled = true;
    button.textContent = text;
    return function () { button.disabled = false; button.textContent = label; };
  }

  function fillSelect(select, items, placeholder) {
    select.innerHTML = "";
    var first = document.createElement("option");
    first.value = "";
    first.textContent = placeholder;
    select.appendChild(first);
    items.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.value;
      option.textContent = item.label;
      select.appendChild(option);
    });
    select.disabled = items.length === 0;
  }

  function database() {
    return $("database_text").classList.contains("hidden") ? $("database").value : $("database_text").value.trim();
  }

  function secretStore() {
    if (state.keyringOk) return "keyring";
    var chosen = document.querySelector("input[name=secret_store]:checked");
    return chosen ? chosen.value : "";
  }

  function tls() {
    return {
      server_url: $("server_url").value,
      server_ca_file: $("server_ca_file").value.trim(),
      allow_insecure_http: $("allow_insecure_http").checked,
    };
  }

  // Shown for as long as the insecure setting is on (the window's own bar says it too).
  function showInsecure() {
    var on = $("allow_insecure_http").checked;
    if (on) $("tls").open = true;
    P.note($("insecure_note"), on ? "insecure" : "", on
      ? t("Insecure: with an http:// server on another computer, the password, the session " +
        "and every order cross the network unencrypted. Use https:// in a restaurant.")
      : "");
  }

  function chooseCa() {
    P.api("choose_ca_file").then(function (answer) {
      if (answer.path) $("server_ca_file").value = answer.path;
    });
  }

  function form() {
    var config = $("config");
    return {
      server_url: $("server_url").value,
      server_ca_file: $("server_ca_file").value.trim(),
      allow_insecure_http: $("allow_insecure_http").checked,
      database: database(),
      login: $("login").value.trim(),
      password: $("password").value,
      config_id: config.value ? Number(config.value) : null,
      config_name: config.value ? config.options[config.selectedIndex].dataset.name : "",
      odoo_major: state.odooMajor,
      fullscreen: $("fullscreen").checked,
      silent_print: $("silent_print").checked,
      kiosk: $("kiosk").checked,
      manager_pin: $("manager_pin").value,
      secret_store: secretStore(),
    };
  }

  function showStorageChoice(why) {
    state.keyringOk = false;
    $("storage_why").textContent = why + " " +
      t("possync never writes your password in plain text without asking. Choose:");
    $("storage").classList.remove("hidden");
  }

  // A 2D scanner types the QR code's one line into the code field (and often Enter).
  var ENROL_PREFIX = "possync:enroll?"; // i18n: ignore (the QR code's scheme)

  function scannedUrl() {
    var text = $("enrol_code").value.trim();
    if (text.toLowerCase().indexOf(ENROL_PREFIX) !== 0) return;
    var url = new URLSearchParams(text.slice(ENROL_PREFIX.length)).get("url");
    if (url) $("enrol_server_url").value = url;
  }

  function showEnrolled(s) {
    state.enrolled = true;
    state.configId = s.config_id;
    state.odooMajor = s.odoo_major;
    $("server_url").value = s.server_url;
    $("server_ca_file").value = s.server_ca_file || "";
    $("database").classList.add("hidden");
    $("database_text").classList.remove("hidden");
    $("database_text").value = s.database;
    fillSelect($("config"), [{ value: s.config_id, label: s.config_name }], t("Choose a POS"));
    $("config").options[1].dataset.name = s.config_name;
    $("config").value = String(s.config_id);
    document.body.classList.add("enrolled");
    P.note($("enrol_note"), "ok",
      t("This terminal is enrolled for {pos} (database {database} on {url}).",
        { pos: s.config_name, database: s.database, url: s.server_url }),
      t("Now log in once below."));
    $("login").focus();
  }

  function enrol() {
    scannedUrl();
    var done = busy($("enrol"), t("Enrolling…"));
    P.note($("enrol_note"), "", "");
    return P.api("enrol", {
      server_url: $("enrol_server_url").value,
      code: $("enrol_code").value,
      allow_insecure_http: $("allow_insecure_http").checked,
    }).then(function (answer) {
      done();
      if (!answer.ok) { fail($("enrol_note"), answer); return; }
      showEnrolled(answer.settings);
    });
  }

  function connect() {
    var done = busy($("connect"), t("Connecting…"));
    P.note($("server_note"), "", "");
    return P.api("databases", tls()).then(function (answer) {
      done();
      if (!answer.ok) {
        fail($("server_note"), answer);
        var code = answer.error && answer.error.code;
        if (code === "tls" || code === "tls_ca_file" || code === "insecure_http") $("tls").open = true;
        return;
      }
      $("server_url").value = answer.server_url;
      state.odooMajor = answer.odoo_major;
      P.note($("server_note"), "ok", t("Odoo {version} answers.", { version: answer.version }));
      var listed = Array.isArray(answer.databases);
      $("database").classList.toggle("hidden", !listed);
      $("database_text").classList.toggle("hidden", listed);
      if (listed) {
        var current = state.database;
        fillSelect($("database"), answer.databases.map(function (db) { return { value: db, label: db }; }),
          answer.databases.length ? t("Choose a database") : t("No database on this server"));
        if (answer.databases.length === 1) $("database").value = answer.databases[0];
        if (current && answer.databases.indexOf(current) >= 0) $("database").value = current;
      }
    });
  }

  function login() {
    var done = busy($("do_login"), t("Logging in…"));
    P.note($("login_note"), "", "");
    var f = form();
    return P.api("login", f).then(function (answer) {
      done();
      if (!answer.ok) { fail($("login_note"), answer); return; }
      P.note($("login_note"), "ok", answer.api_key
        ? t("API key accepted. The POS window will ask you to log in once; the session is then kept.")
        : t("Logged in as {login}.", { login: f.login }));
      var notRestaurant = " " + t("(not a restaurant)");
      fillSelect($("config"), answer.configs.map(function (c) {
        return { value: c.id, label: c.name + (c.restaurant ? "" : notRestaurant) };
      }), answer.configs.length ? t("Choose a POS") : t("This user cannot open any POS"));
      Array.prototype.forEach.call($("config").options, function (option) {
        option.dataset.name = option.textContent.replace(notRestaurant, "");
      });
      var restaurants = answer.configs.filter(function (c) { return c.restaurant; });
      if (state.configId) $("config").value = String(state.configId);
      else if (restaurants.length === 1) $("config").value = String(restaurants[0].id);
      if (state.enrolled) {
        // Enrolled: the POS is set, so a login that may open it is all that is needed.
        if ($("config").value) { save(); return; }
        P.note($("login_note"), "bad", t("{login} may not open this POS.", { login: f.login }),
          t("Log in with a user of this POS."));
      }
    });
  }

  function test() {
    var done = busy($("test"), t("Testing…"));
    var list = $("results");
    list.innerHTML = "";
    return P.api("test", form()).then(function (answer) {
      done();
      list.classList.remove("hidden");
      (answer.checks || []).forEach(function (check) {
        var li = document.createElement("li");
        li.className = check.ok ? "pass" : "fail";
        li.innerHTML = '<span class="icon"></span><span class="name"></span><span class="msg"></span>';
        li.querySelector(".icon").textContent = check.ok ? "✓" : "✗";
        li.querySelector(".name").textContent = check.name;
        li.querySelector(".msg").textContent = check.message;
        if (check.hint) {
          var what = document.createElement("span");
          what.className = "what";
          what.textContent = check.hint;
          li.querySelector(".msg").appendChild(what);
        }
        list.appendChild(li);
      });
    });
  }

  function save() {
    var f = form();
    var missing = [];
    if (!f.server_url) missing.push(t("server address"));
    if (!f.database) missing.push(t("database"));
    if (!f.login) missing.push(t("login"));
    if (!f.password) missing.push(t("password"));
    if (!f.config_id) missing.push(t("POS"));
    if (missing.length) {
      P.note($("save_note"), "bad", t("Fill in: {fields}.", { fields: missing.join(", ") }));
      return;
    }
    if (!f.secret_store) {
      P.note($("save_note"), "bad", t("Choose where the password is kept (under Login)."));
      return;
    }
    var done = busy($("save"), t("Saving…"));
    P.note($("save_note"), "", "");
    P.api("save", f).then(function (answer) {
      done();
      if (answer.ok) {
        P.note($("save_note"), "ok", t("Saved. Opening the POS…"));
      } else if (answer.error && answer.error.code === "keyring") {
        showStorageChoice(answer.error.message);
        P.note($("save_note"), "bad", t("The password could not be stored in the system keyring."),
          t("Choose where to keep it under Login, then save again."));
      } else {
        fail($("save_note"), answer);
      }
    });
  }

  $("enrol").addEventListener("click", enrol);
  $("enrol_code").addEventListener("input", scannedUrl);
  $("enrol_code").addEventListener("keydown", function (e) { if (e.key === "Enter") enrol(); });
  $("connect").addEventListener("click", connect);
  $("server_url").addEventListener("keydown", function (e) { if (e.key === "Enter") connect(); });
  $("do_login").addEventListener("click", login);
  $("password").addEventListener("keydown", function (e) { if (e.key === "Enter") login(); });
  $("test").addEventListener("click", test);
  $("choose_ca").addEventListener("click", chooseCa);
  $("allow_insecure_http").addEventListener("change", showInsecure);
  $("save").addEventListener("click", save);

  var message = P.params.get("message");
  if (message) P.note($("message"), "warn", message);

  P.api("setup_state").then(function (answer) {
    var s = answer.settings;
    state.configured = answer.configured;
    state.database = s.database;
    state.configId = s.config_id;
    state.odooMajor = s.odoo_major;
    $("server_url").value = s.server_url;
    $("enrol_server_url").value = s.server_url;
    $("login").value = s.login;
    $("fullscreen").checked = s.fullscreen;
    $("silent_print").checked = s.silent_print;
    $("kiosk").checked = !!s.kiosk;
    if (s.manager_pin_set) $("manager_pin_hint").textContent = t("(set; type a new one to change it)");
    $("server_ca_file").value = s.server_ca_file || "";
    $("allow_insecure_http").checked = !!s.allow_insecure_http;
    if (s.server_ca_file) $("tls").open = true;
    showInsecure();
    if (!answer.keyring.ok) showStorageChoice(answer.keyring.detail);
    if (s.secret_store !== "keyring") {
      var radio = document.querySelector("input[name=secret_store][value=" + s.secret_store + "]");
      if (radio) radio.checked = true;
    }
    // Enrolled, but the app was closed before the login: only the login is left.
    if (s.config_id && s.database && !s.login) {
      showEnrolled(s);
      document.body.dataset.ready = "1";
      return;
    }
    if (s.server_url) connect();
    if (s.config_id) {
      var label = s.config_name || t("POS {id}", { id: s.config_id });
      fillSelect($("config"), [{ value: s.config_id, label: label }], t("Choose a POS"));
      $("config").options[1].dataset.name = s.config_name;
      $("config").value = String(s.config_id);
    }
    document.body.dataset.ready = "1";
  });
})();
