// BrowserCamera: the user's webcam (getUserMedia) -> canvas -> JPEG -> kernel.
//
// Browser -> kernel: {type: "frame", seq} + [JPEG bytes], one at a time;
//   {type: "started", width, height} once the camera runs; {type: "stopped"};
//   {type: "error", name, message} when the camera cannot open (name: a DOMException name
//   such as NotAllowedError, or "InsecureContext" / "NoMediaDevices").
// Kernel -> browser: {type: "ack", seq, error?} after each frame (the next one may go);
//   {type: "start"} / {type: "stop"} (Python's start()/stop()).
// The root (.byoc-camera) carries data-state (idle/starting/running/stopped/failed) and
// data-sent (frames sent by this view).

const ACK_TIMEOUT_MS = 3000; // a lost ack must not stop the camera for good
// Two frames in flight overlap one frame's round trip (browser -> kernel -> browser, tens
// of ms) with the next; with one, that round trip, not the camera, would set the rate.
const MAX_IN_FLIGHT = 2;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

function render({ model, el: host }) {
  const root = el("div", "byoc-camera");
  const video = el("video", "byoc-camera-video");
  video.muted = true;
  video.playsInline = true;
  const canvas = el("canvas");
  const bar = el("div", "byoc-camera-bar");
  const toggle = el("button", "byoc-camera-toggle", "Start camera");
  const status = el("span", "byoc-camera-status");
  bar.append(toggle, status);
  root.append(video, bar);
  host.append(root);

  let stream = null;
  let seq = 0;
  let sent = 0;
  let inFlight = new Map(); // seq -> when sent; at most MAX_IN_FLIGHT frames await their ack
  let lastShot = 0;
  let timer = null;
  let alive = true;

  function setState(state, text) {
    root.dataset.state = state;
    toggle.textContent = state === "running" || state === "starting" ? "Stop camera" : "Start camera";
    if (text !== undefined) status.textContent = text;
  }

  function schedule() {
    clearTimeout(timer);
    if (!stream || !alive) return;
    const period = 1000 / Math.max(1, model.get("fps"));
    const oldest = inFlight.size >= MAX_IN_FLIGHT ? Math.min(...inFlight.values()) : null;
    const wait = oldest !== null
      ? Math.max(0, oldest + ACK_TIMEOUT_MS - performance.now())
      : Math.max(0, lastShot + period - performance.now());
    timer = setTimeout(shoot, wait);
  }

  function shoot() {
    if (!stream || !alive) return;
    for (const [n, at] of inFlight) if (performance.now() - at >= ACK_TIMEOUT_MS) inFlight.delete(n);
    if (inFlight.size >= MAX_IN_FLIGHT) return schedule();
    if (video.readyState < 2) return (timer = setTimeout(shoot, 50));
    canvas.width = model.get("width");
    canvas.height = model.get("height");
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    lastShot = performance.now();
    const mine = ++seq;
    inFlight.set(mine, lastShot);
    canvas.toBlob(
      async (blob) => {
        if (!stream) return;
        if (!blob) {
          inFlight.delete(mine);
          return schedule();
        }
        const data = await blob.arrayBuffer();
        model.send({ type: "frame", seq: mine }, undefined, [data]);
        sent += 1;
        root.dataset.sent = String(sent);
        schedule();
      },
      "image/jpeg",
      model.get("quality") / 100,
    );
  }

  function fail(name, message) {
    release();
    setState("failed", `${name}: ${message}`);
    model.send({ type: "error", name, message });
  }

  async function start() {
    if (stream) return;
    if (!window.isSecureContext) return fail("InsecureContext", "page is not a secure context");
    if (!navigator.mediaDevices?.getUserMedia) {
      return fail("NoMediaDevices", "navigator.mediaDevices.getUserMedia is missing");
    }
    setState("starting", "asking for the camera…");
    try {
      const constraints = { width: model.get("width"), height: model.get("height") };
      const got = await navigator.mediaDevices.getUserMedia({ video: constraints, audio: false });
      if (!alive) return got.getTracks().forEach((t) => t.stop());
      stream = got;
      video.srcObject = got;
      await video.play();
    } catch (err) {
      return fail(err?.name || "Error", err?.message || String(err));
    }
    setState("running", "");
    model.send({ type: "started", width: video.videoWidth, height: video.videoHeight });
    inFlight.clear();
    schedule();
  }

  function release() {
    clearTimeout(timer);
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.srcObject = null;
    inFlight.clear();
  }

  function stop() {
    const had = stream !== null;
    release();
    setState("stopped", "camera stopped");
    if (had) model.send({ type: "stopped" });
  }

  function onMessage(msg) {
    if (!msg) return;
    if (msg.type === "ack") {
      inFlight.delete(msg.seq);
      if (msg.error) status.textContent = msg.error;
      schedule();
    } else if (msg.type === "start") start();
    else if (msg.type === "stop") stop();
  }

  function showReason() {
    const reason = model.get("reason");
    if (reason) status.textContent = reason;
  }

  toggle.addEventListener("click", () => (stream ? stop() : start()));
  model.on("msg:custom", onMessage);
  model.on("change:reason", showReason);
  setState("idle", "");
  showReason();
  if (model.get("autostart")) start();
  return () => {
    alive = false;
    release();
    model.off("msg:custom", onMessage);
    model.off("change:reason", showReason);
  };
}

export default { render };
