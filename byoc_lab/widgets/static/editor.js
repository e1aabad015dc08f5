// Editor: a Python code editor made of a transparent <textarea> over a highlighted <pre>.
//
// Browser -> kernel: {type: "apply", source} (Apply button, Ctrl/Cmd+Enter); the `source`
//   trait also follows typing (debounced).
// Kernel -> browser: {type: "applied", ok} once an apply finished (success or error);
//   the `error` ({line, message} or {}) and `status` traits carry the details.

const KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else " +
    "except finally for from global if import in is lambda nonlocal not or pass raise " +
    "return try while with yield match case").split(" "),
);
const BUILTINS = new Set(
  ("abs all any bool bytes callable dict dir divmod enumerate filter float format " +
    "getattr hasattr int isinstance issubclass iter len list map max min next object " +
    "open print range repr reversed round set setattr slice sorted str sum super tuple " +
    "type zip self cls Exception ValueError TypeError KeyError IndexError RuntimeError " +
    "NotImplementedError ZeroDivisionError AttributeError").split(" "),
);

// One alternative per token kind, tried in order at each position (sticky regex).
const TOKEN = new RegExp(
  [
    /(#[^\n]*)/.source, // 1 comment
    // 2 string: optional prefix, triple-quoted (may be unterminated), or one-line
    /((?:[rRbBuUfF]{1,2})?(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:[^"\\\n]|\\[\s\S])*"?|'(?:[^'\\\n]|\\[\s\S])*'?))/
      .source,
    /(@[A-Za-z_][\w.]*)/.source, // 3 decorator
    /(\b(?:0[xX][\da-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?j?)\b)/
      .source, // 4 number
    /([A-Za-z_]\w*)/.source, // 5 name
    /(\s+|[^\s\w"'#@]+|.)/.source, // 6 anything else
  ].join("|"),
  "y",
);

function escapeHtml(text) {
  return text.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]);
}

function span(cls, text) {
  return `<span class="tok-${cls}">${escapeHtml(text)}</span>`;
}

function fString(text) {
  // f-strings: the {expressions} inside stand out from the literal text.
  return text
    .split(/(\{\{|\}\}|\{[^{}\n]*\})/)
    .map((part, i) => (i % 2 && part.length > 2 ? span("interp", part) : span("str", part)))
    .join("");
}

/** Return `source` as HTML with Python tokens wrapped in <span class="tok-…">. */
export function highlight(source) {
  let html = "";
  let afterDef = false;
  TOKEN.lastIndex = 0;
  let m;
  while (TOKEN.lastIndex < source.length && (m = TOKEN.exec(source))) {
    const [text, comment, string, deco, num, name] = m;
    if (comment) html += span("comment", text);
    else if (string) html += /^[rRbBuU]?[fF]|^[fF]/.test(text) ? fString(text) : span("str", text);
    else if (deco) html += span("deco", text);
    else if (num) html += span("num", text);
    else if (name) {
      if (afterDef) html += span("def", text);
      else if (KEYWORDS.has(text)) html += span("kw", text);
      else if (BUILTINS.has(text)) html += span("builtin", text);
      else html += escapeHtml(text);
      afterDef = text === "def" || text === "class";
      continue;
    } else html += escapeHtml(text);
    if (!/^[ \t]+$/.test(text)) afterDef = false;
  }
  // A trailing newline needs a character after it, or the <pre> is one line short.
  return html + "\n ";
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

/** Replace [start, end) of the textarea, keeping the browser's undo history when it can. */
function replaceRange(ta, start, end, text, select) {
  ta.focus();
  ta.setSelectionRange(start, end);
  if (!document.execCommand || !document.execCommand("insertText", false, text)) {
    ta.setRangeText(text, start, end, "end");
  }
  if (select) ta.setSelectionRange(select[0], select[1]);
  ta.dispatchEvent(new Event("input"));
}

/** Tab / Shift+Tab on the selected lines (or a 4-space insert at a plain cursor). */
function indent(ta, dedent) {
  const { value, selectionStart: s, selectionEnd: e } = ta;
  if (!dedent && !value.slice(s, e).includes("\n")) {
    replaceRange(ta, s, e, "    ");
    return;
  }
  const lineStart = value.lastIndexOf("\n", s - 1) + 1;
  const block = value.slice(lineStart, e);
  const lines = block.split("\n");
  const changed = lines.map((l) => (dedent ? l.replace(/^ {1,4}/, "") : `    ${l}`));
  const out = changed.join("\n");
  const firstShift = changed[0].length - lines[0].length;
  const newStart = Math.max(lineStart, s + firstShift);
  replaceRange(ta, lineStart, e, out, [newStart, e + out.length - block.length]);
}

/** Enter keeps the current line's indentation, one level deeper after a ':'. */
function newline(ta) {
  const { value, selectionStart: s, selectionEnd: e } = ta;
  const line = value.slice(value.lastIndexOf("\n", s - 1) + 1, s);
  let pad = line.match(/^[ \t]*/)[0];
  if (/:\s*(#.*)?$/.test(line)) pad += "    ";
  replaceRange(ta, s, e, `\n${pad}`);
}

function render({ model, el: host }) {
  const root = el("div", "byoc-editor");
  const body = el("div", "byoc-editor-body");
  const gutter = el("div", "byoc-editor-gutter");
  const code = el("div", "byoc-editor-code");
  const pre = el("pre", "byoc-editor-highlight");
  const ta = el("textarea", "byoc-editor-input");
  ta.spellcheck = false;
  ta.wrap = "off";
  ta.setAttribute("autocapitalize", "off");
  ta.setAttribute("autocomplete", "off");
  ta.setAttribute("aria-label", "processor source");
  // JupyterLab (Lumino) ignores its keyboard shortcuts inside elements marked like this,
  // so Tab, Enter and Ctrl+Enter reach the editor instead of the notebook.
  ta.setAttribute("data-lm-suppress-shortcuts", "true");
  code.append(pre, ta);
  body.append(gutter, code);
  const bar = el("div", "byoc-editor-bar");
  const apply = el("button", "byoc-editor-apply", "Apply");
  apply.title = "Apply (Ctrl/Cmd+Enter)";
  const status = el("span", "byoc-editor-status");
  bar.append(apply, status);
  const message = el("div", "byoc-editor-error");
  root.append(body, bar, message);
  host.append(root);

  let timer = null;

  function drawGutter() {
    const count = ta.value.split("\n").length;
    const bad = (model.get("error") || {}).line;
    const rows = [];
    for (let i = 1; i <= count; i++) {
      rows.push(`<div${i === bad ? ' class="byoc-editor-error-line"' : ""}>${i}</div>`);
    }
    gutter.innerHTML = rows.join("");
  }

  function redraw() {
    pre.innerHTML = highlight(ta.value);
    drawGutter();
    syncScroll();
  }

  function syncScroll() {
    pre.scrollTop = ta.scrollTop;
    pre.scrollLeft = ta.scrollLeft;
    gutter.scrollTop = ta.scrollTop;
  }

  function pushSource() {
    clearTimeout(timer);
    timer = null;
    if (model.get("source") !== ta.value) {
      model.set("source", ta.value);
      model.save_changes();
    }
  }

  function doApply() {
    pushSource();
    root.classList.add("byoc-busy");
    apply.disabled = true;
    status.textContent = "Applying…";
    model.send({ type: "apply", source: ta.value });
  }

  function showError() {
    const err = model.get("error") || {};
    const named = err.line && !String(err.message).includes(`line ${err.line}`);
    message.textContent = err.message ? (named ? `line ${err.line}: ${err.message}` : err.message) : "";
    message.hidden = !err.message;
    root.classList.toggle("byoc-has-error", Boolean(err.message));
    drawGutter();
  }

  function showStatus() {
    status.textContent = model.get("status") || "";
  }

  function fromModel() {
    if (model.get("source") !== ta.value && timer === null) {
      ta.value = model.get("source");
      redraw();
    }
  }

  function onMessage(msg) {
    if (msg && msg.type === "applied") {
      root.classList.remove("byoc-busy");
      apply.disabled = false;
      showStatus();
    }
  }

  ta.addEventListener("input", () => {
    redraw();
    clearTimeout(timer);
    timer = setTimeout(pushSource, 400);
  });
  ta.addEventListener("scroll", syncScroll);
  ta.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      doApply();
    } else if (ev.key === "Tab" && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      ev.preventDefault();
      indent(ta, ev.shiftKey);
    } else if (ev.key === "Enter" && !ev.shiftKey && !ev.altKey) {
      ev.preventDefault();
      newline(ta);
    }
  });
  apply.addEventListener("click", doApply);

  ta.value = model.get("source") || "";
  redraw();
  showError();
  showStatus();
  model.on("change:source", fromModel);
  model.on("change:error", showError);
  model.on("change:status", showStatus);
  model.on("msg:custom", onMessage);
  return () => {
    if (timer !== null) pushSource();
    model.off("change:source", fromModel);
    model.off("change:error", showError);
    model.off("change:status", showStatus);
    model.off("msg:custom", onMessage);
  };
}

export default { render };
