// The app's pages in the app's language (shell/i18n.py). The local server puts the
// catalog (English text → translated text) in front of this script as
// window.possyncCatalog. The pages are written in English: their text nodes and
// placeholder/title attributes are looked up here as they are; texts built in code go
// through possyncT("English text with {name}", {name: value}).
(function () {
  var catalog = window.possyncCatalog || { lang: "en", texts: {} };
  var texts = catalog.texts || {};
  var ATTRIBUTES = ["placeholder", "title"];

  function normal(text) {
    return text.replace(/\s+/g, " ").trim();
  }

  function t(text, values) {
    var out = Object.prototype.hasOwnProperty.call(texts, text) ? texts[text] : text;
    return out.replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }

  function translateText(node) {
    var key = normal(node.nodeValue);
    if (!key || !Object.prototype.hasOwnProperty.call(texts, key)) return;
    var lead = node.nodeValue.match(/^\s*/)[0];
    var trail = node.nodeValue.match(/\s*$/)[0];
    node.nodeValue = lead + texts[key] + trail;
  }

  function translateTree(root) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        var tag = node.parentNode && node.parentNode.nodeName;
        return tag === "SCRIPT" || tag === "STYLE" ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      },
    });
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(translateText);
    ATTRIBUTES.forEach(function (name) {
      root.querySelectorAll("[" + name + "]").forEach(function (el) {
        el.setAttribute(name, t(normal(el.getAttribute(name))));
      });
    });
  }

  window.possyncT = t;
  document.documentElement.lang = catalog.lang || "en";
  document.title = t(normal(document.title));
  translateTree(document.body);
})();
