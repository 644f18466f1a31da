// Accord console: an accessibility check of the page in the browser, run
// by the console's browser tests (a11y_test.go) on every page. It returns
// the violations it finds, each {rule, where, what}. The rules are those
// of WCAG 2.1 AA that a page's markup and styles decide:
//
//   lang      <html lang> is set (3.1.1)
//   title     the document has a title (2.4.2)
//   h1        exactly one h1 (the page's title)
//   headings  no heading level is skipped (1.3.1)
//   name      every form control, button and link has an accessible name,
//             every image an alt (1.1.1, 4.1.2, 2.4.4)
//   contrast  text against its background: at least 4.5:1, or 3:1 for
//             large text (24px, or 18.66px bold) (1.4.3)
//   tabindex  no positive tabindex: the keyboard order is the page's order
//             (2.4.3)
//   skip      the first focusable element is a link to the main content,
//             which exists (2.4.1)
//   ids       no two elements share an id (labels would point to the
//             wrong one) (4.1.1)
//   reflow    no text squeezed into a column narrower than two
//             characters, a few letters a line (1.4.10)
//
// Keyboard focus (2.1.1, 2.4.7) is checked by the Go test, which presses
// Tab with real key events and asks window.accordFocusState after each.
"use strict";
(function () {
  function where(el) {
    var parts = [];
    for (var e = el; e && e.nodeType === 1 && parts.length < 4; e = e.parentElement) {
      var s = e.tagName.toLowerCase();
      if (e.id) { s += "#" + e.id; parts.unshift(s); break; }
      if (e.classList.length) { s += "." + Array.prototype.join.call(e.classList, "."); }
      parts.unshift(s);
    }
    return parts.join(" > ");
  }
  function visible(el) {
    if (!el.getClientRects().length) { return false; }
    var st = getComputedStyle(el);
    if (st.visibility === "hidden" || st.display === "none") { return false; }
    var r = el.getBoundingClientRect();
    // Visually hidden for screen readers only (1px, clipped): not text a
    // sighted user reads, so no contrast rule.
    return r.width > 1 && r.height > 1;
  }
  function parseColor(s) {
    var m = s.match(/rgba?\(([^)]+)\)/);
    if (!m) { return null; }
    var p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function over(top, bottom) {
    var a = top.a;
    return { r: top.r * a + bottom.r * (1 - a), g: top.g * a + bottom.g * (1 - a), b: top.b * a + bottom.b * (1 - a), a: 1 };
  }
  // background is the colour behind el: the first non-transparent
  // background of it and its ancestors, with the translucent ones over it
  // blended in; white at the root. An element over an image (a map) has
  // no colour to measure: null.
  function background(el) {
    var layers = [];
    for (var e = el; e && e.nodeType === 1; e = e.parentElement) {
      var st = getComputedStyle(e);
      if (st.backgroundImage && st.backgroundImage !== "none") { return null; }
      var c = parseColor(st.backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a >= 1) { break; }
      }
    }
    var bg = { r: 255, g: 255, b: 255, a: 1 };
    for (var i = layers.length - 1; i >= 0; i--) { bg = over(layers[i], bg); }
    return bg;
  }
  function luminance(c) {
    function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  }
  function ratio(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }
  function ownText(el) {
    for (var n = el.firstChild; n; n = n.nextSibling) {
      if (n.nodeType === 3 && n.nodeValue.trim() !== "") { return n.nodeValue.trim(); }
    }
    return "";
  }
  function textOf(el) { return (el.textContent || "").replace(/\s+/g, " ").trim(); }
  function labelledBy(el) {
    var ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    return ids.map(function (id) { var x = document.getElementById(id); return x ? textOf(x) : ""; }).join(" ").trim();
  }
  function controlName(el) {
    var n = (el.getAttribute("aria-label") || "").trim() || labelledBy(el);
    if (n) { return n; }
    if (el.id) {
      var ls = document.querySelectorAll("label[for=\"" + CSS.escape(el.id) + "\"]");
      for (var i = 0; i < ls.length; i++) { if (textOf(ls[i])) { return textOf(ls[i]); } }
    }
    var wrap = el.closest("label");
    if (wrap && textOf(wrap)) { return textOf(wrap); }
    return (el.getAttribute("title") || "").trim();
  }

  var out = [];
  function add(rule, el, what) { out.push({ rule: rule, where: el ? where(el) : "document", what: what }); }

  var html = document.documentElement;
  if (!(html.getAttribute("lang") || "").trim()) { add("lang", html, "<html> has no lang"); }
  if (!document.title.trim()) { add("title", null, "the document has no title"); }
  var h1s = document.querySelectorAll("h1");
  if (h1s.length !== 1) { add("h1", null, h1s.length + " h1 elements"); }
  var last = 0;
  document.querySelectorAll("h1, h2, h3, h4, h5, h6").forEach(function (h) {
    var level = Number(h.tagName[1]);
    if (last && level > last + 1) { add("headings", h, "h" + level + " after h" + last); }
    last = level;
  });

  document.querySelectorAll("input, select, textarea").forEach(function (el) {
    var type = (el.getAttribute("type") || "").toLowerCase();
    if (type === "hidden") { return; }
    if (type === "submit" || type === "button" || type === "reset") {
      if (!(el.value || "").trim() && !controlName(el)) { add("name", el, "a button without text"); }
      return;
    }
    if (!controlName(el)) { add("name", el, "a form control without a label"); }
  });
  document.querySelectorAll("button, [role=button]").forEach(function (el) {
    if (!textOf(el) && !controlName(el)) { add("name", el, "a button without text"); }
  });
  document.querySelectorAll("a[href]").forEach(function (el) {
    var imgs = Array.prototype.map.call(el.querySelectorAll("img[alt]"), function (i) { return i.alt; }).join("").trim();
    if (!textOf(el) && !controlName(el) && !imgs) { add("name", el, "a link without text"); }
  });
  document.querySelectorAll("img").forEach(function (el) {
    if (!el.hasAttribute("alt") && el.getAttribute("role") !== "presentation" && el.getAttribute("aria-hidden") !== "true") {
      add("name", el, "an image without alt");
    }
  });

  document.querySelectorAll("body *").forEach(function (el) {
    var text = ownText(el);
    if (!text || !visible(el) || el.closest("[aria-hidden=true]")) { return; }
    var st = getComputedStyle(el);
    var fg = parseColor(st.color), bg = background(el);
    if (!fg || !bg) { return; }
    if (fg.a < 1) { fg = over(fg, bg); }
    var size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700 || st.fontWeight === "bold";
    var need = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    var box = el.getBoundingClientRect();
    if (text.length >= 4 && box.width < 2 * size && box.height > 4 * size) {
      add("reflow", el, "\"" + text.slice(0, 20) + "\" squeezed into " + Math.round(box.width) + " px");
    }
    var r = ratio(fg, bg);
    if (r < need) {
      add("contrast", el, "\"" + text.slice(0, 40) + "\": " + r.toFixed(2) + ":1, needs " + need + ":1 (" + st.color + " on " +
        "rgb(" + Math.round(bg.r) + ", " + Math.round(bg.g) + ", " + Math.round(bg.b) + "))");
    }
  });

  var focusable = Array.prototype.filter.call(
    document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]"),
    function (el) { return !el.disabled && el.tabIndex >= 0 && visible(el) || (el.classList.contains("skip")); });
  document.querySelectorAll("[tabindex]").forEach(function (el) {
    if (el.tabIndex > 0) { add("tabindex", el, "tabindex " + el.tabIndex + " changes the keyboard order"); }
  });
  var first = focusable[0];
  var target = first && first.getAttribute("href") && first.getAttribute("href").charAt(0) === "#" ?
    document.getElementById(first.getAttribute("href").slice(1)) : null;
  if (!target) { add("skip", first || null, "the first focusable element is not a link to the page's main content"); }

  var seen = {};
  document.querySelectorAll("[id]").forEach(function (el) {
    if (seen[el.id]) { add("ids", el, "id \"" + el.id + "\" is used twice"); }
    seen[el.id] = true;
  });

  // For the keyboard test: what has the focus now, and does it show?
  window.accordFocusState = function () {
    var el = document.activeElement;
    if (!el || el === document.body) { return { where: "body", visible: false, shown: false }; }
    var st = getComputedStyle(el);
    var ring = (st.outlineStyle !== "none" && parseFloat(st.outlineWidth) > 0) || (st.boxShadow && st.boxShadow !== "none");
    var r = el.getBoundingClientRect();
    return { where: where(el), visible: ring, shown: r.width > 1 && r.height > 1 };
  };
  return out;
})();
