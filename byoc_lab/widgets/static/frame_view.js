// FrameView: draws the JPEG frames the kernel sends and acknowledges each one.
//
// Kernel -> browser: {type: "frame", seq, index, has_input, has_output, error, process_ms}
//   with buffers [input JPEG if has_input, output JPEG if has_output].
// Browser -> kernel: {type: "ready"} when a view renders; {type: "ack", seq} after a frame
//   has been drawn (or skipped because a newer one was already drawn).
// The root element carries data-seq (last drawn seq), data-index (its source index),
// data-drawn (frames drawn by this view) and data-error (present while the output errs).

function makePane(kind, label) {
  const pane = document.createElement("div");
  pane.className = `byoc-frame-pane byoc-frame-${kind}`;
  const canvas = document.createElement("canvas");
  canvas.width = 640;
  canvas.height = 480;
  const caption = document.createElement("div");
  caption.className = "byoc-frame-label";
  caption.textContent = label;
  pane.append(canvas, caption);
  return { pane, canvas, caption };
}

async function decode(buffer) {
  return createImageBitmap(new Blob([buffer], { type: "image/jpeg" }));
}

function paint(canvas, bitmap) {
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "byoc-frame-view";
  root.dataset.seq = "0";
  root.dataset.drawn = "0";
  const input = makePane("input", model.get("input_label"));
  const output = makePane("output", model.get("output_label"));
  const error = document.createElement("div");
  error.className = "byoc-frame-error";
  error.hidden = true;
  output.pane.append(error);
  root.append(input.pane, output.pane);
  el.append(root);

  let drawnSeq = 0;
  let drawn = 0;

  function showPanes() {
    input.pane.hidden = model.get("panes") === "output";
  }

  function showError(text) {
    error.textContent = text || "";
    error.hidden = !text;
    if (text) root.dataset.error = text;
    else delete root.dataset.error;
  }

  async function onFrame(msg, buffers) {
    const parts = [...buffers];
    const inBuf = msg.has_input ? parts.shift() : null;
    const outBuf = msg.has_output ? parts.shift() : null;
    try {
      const [inBmp, outBmp] = await Promise.all([
        inBuf ? decode(inBuf) : null,
        outBuf ? decode(outBuf) : null,
      ]);
      if (msg.seq <= drawnSeq) {
        inBmp?.close();
        outBmp?.close();
      } else {
        if (inBmp) paint(input.canvas, inBmp);
        if (outBmp) paint(output.canvas, outBmp);
        drawnSeq = msg.seq;
        drawn += 1;
        root.dataset.seq = String(msg.seq);
        root.dataset.index = String(msg.index);
        root.dataset.drawn = String(drawn);
        const ms = msg.process_ms == null ? "" : ` · ${msg.process_ms.toFixed(1)} ms`;
        input.caption.textContent = `${model.get("input_label")} · frame ${msg.index}`;
        output.caption.textContent = `${model.get("output_label")}${ms}`;
        showError(msg.error);
      }
    } catch (err) {
      showError(`cannot draw frame ${msg.seq}: ${err}`);
    }
    model.send({ type: "ack", seq: msg.seq });
  }

  // Frames are drawn in the order they arrive: with two in flight, a later frame's
  // decode could otherwise finish first and the earlier one would then be skipped.
  let drawing = Promise.resolve();

  function onMessage(msg, buffers) {
    if (msg && msg.type === "frame") drawing = drawing.then(() => onFrame(msg, buffers || []));
  }

  showPanes();
  model.on("change:panes", showPanes);
  model.on("msg:custom", onMessage);
  model.send({ type: "ready" });
  return () => {
    model.off("change:panes", showPanes);
    model.off("msg:custom", onMessage);
  };
}

export default { render };
