// The app's Plotly element (optlab/chart/__init__.py): one div per chart, kept across reruns, new figures
// applied with Plotly.react (the figures' uirevision keeps camera and zoom). Parts of figures travel once:
// PARTS holds every part this page was sent, by hash, for all charts.

const PLOTLY_URL = new URL("./plotly.min.js", import.meta.url).href;
const PARTS = (window.__optlabChartParts ||= new Map());
const MAX_PARTS = 400;

function loadPlotly() {
  if (!window.__optlabPlotly) {
    window.__optlabPlotly = window.Plotly ? Promise.resolve(window.Plotly) : new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = PLOTLY_URL;
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { window.__optlabPlotly = null; reject(new Error("plotly.js did not load")); };
      document.head.appendChild(s);
    });
  }
  return window.__optlabPlotly;
}

function keep(h, value) {
  PARTS.delete(h);
  PARTS.set(h, value);
  while (PARTS.size > MAX_PARTS) PARTS.delete(PARTS.keys().next().value);
}

// NumPy arrays arrive as {dtype, bdata, shape} (base64). Plotly decodes such a spec into a new typed array on
// every draw, so its diff saw every array as changed and redrew everything (the contour and the 3-D surface
// on each rerun); decoded once here, on arrival, a part's arrays are the same objects from draw to draw.
const TYPED = {f8: Float64Array, f4: Float32Array, i4: Int32Array, u4: Uint32Array, i2: Int16Array,
               u2: Uint16Array, i1: Int8Array, u1: Uint8Array, u1c: Uint8ClampedArray};

function decoded(value) {
  if (Array.isArray(value)) return value.map(decoded);
  if (!value || typeof value !== "object") return value;
  const Typed = typeof value.bdata === "string" && TYPED[value.dtype];
  if (Typed) {
    const bin = atob(value.bdata);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const shape = value.shape === undefined ? [] : String(value.shape).split(",").map(Number);
    if (shape.length < 2) return new Typed(bytes.buffer);
    const [rows, cols] = shape;  // 2-D (a grid's z): rows of views on the one buffer, as Plotly's own decoder
    return Array.from({length: rows}, (_, r) => new Typed(bytes.buffer, r * cols * Typed.BYTES_PER_ELEMENT, cols));
  }
  const out = {};
  for (const [k, v] of Object.entries(value)) out[k] = decoded(v);
  return out;
}

// A reference resolved from the page's store (the same object each time: Plotly.react then sees an unchanged
// trace as unchanged), or undefined.
function resolve(r, missing) {
  if ("j" in r) { const value = decoded(r.j); keep(r.h, value); return value; }
  const value = PARTS.get(r.h);
  if (value === undefined) missing.push(r.h); else keep(r.h, value);
  return value;
}

function withAlpha(color, alpha) {
  const probe = document.createElement("div");
  probe.style.color = color;
  document.body.appendChild(probe);
  const rgb = getComputedStyle(probe).color.match(/[\d.]+/g) || ["0", "0", "0"];
  probe.remove();
  return `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha})`;
}

// Streamlit's theme: its text and background colours and its font, read from the CSS variables Streamlit sets on
// the element (one style read; the template is built once per theme, below)
function themeKey(el) {
  const style = getComputedStyle(el);
  const v = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
  return [v("--st-text-color", "#31333F"), v("--st-background-color", "#ffffff"),
          v("--st-font", "\"Source Sans Pro\", sans-serif")].join("|");
}

// The theme as a Plotly template (what st.plotly_chart's theme="streamlit" gives): the app's font, text and
// background colours, faint grid lines. One template object per theme, for every chart of the page: a new
// template object makes Plotly.react redraw everything (a remount's cost). Built only for a theme not seen
// yet (withAlpha's probe element makes the browser recompute the page's styles).
function template(key) {
  const templates = (window.__optlabChartTemplates ||= new Map());
  if (!templates.has(key)) {
    const [text, bg, font] = key.split("|");
    const grid = withAlpha(text, 0.12), line = withAlpha(text, 0.3);
    const axis = {gridcolor: grid, linecolor: line, zerolinecolor: line, tickcolor: line,
                  title: {font: {color: text}}, tickfont: {color: text}};
    const scene = {...axis, backgroundcolor: bg, showbackground: false};
    templates.set(key, {layout: {
      font: {family: font, color: text, size: 14}, paper_bgcolor: bg, plot_bgcolor: bg,
      hoverlabel: {font: {family: font}}, legend: {font: {color: text}},
      xaxis: axis, yaxis: axis, scene: {xaxis: scene, yaxis: scene, zaxis: scene},
      colorway: ["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a"],
    }});
  }
  return templates.get(key);
}

function fullscreenButton(root) {
  return {
    name: "fullscreen", title: "Full screen",
    icon: {width: 24, height: 24, path: "M3 3h7v2H5v5H3V3zm11 0h7v7h-2V5h-5V3zM3 14h2v5h5v2H3v-7zm16 0h2v7h-7v-2h5v-5z"},
    click: () => (document.fullscreenElement === root ? document.exitFullscreen() : root.requestFullscreen()),
  };
}

function setup(parentElement) {
  const root = document.createElement("div");
  root.className = "optlab-chart";
  const gd = document.createElement("div");
  root.appendChild(gd);
  parentElement.appendChild(root);
  root.gd = gd;
  root.chain = Promise.resolve();
  // before Plotly's own handlers of the play buttons and the step slider: their frames, if not given yet
  for (const type of ["mousedown", "touchstart", "click", "keydown"]) {
    root.addEventListener(type, (ev) => {
      if (root.pendingFrames && ev.target.closest && ev.target.closest(".updatemenu-container, .slider-container")) {
        installFrames(root);
      }
    }, true);
  }
  new ResizeObserver(() => {
    if (gd._fullLayout && window.Plotly && gd.isConnected && gd.offsetParent) window.Plotly.Plots.resize(gd);
  }).observe(root);
  root.addEventListener("fullscreenchange", () => {
    if (window.Plotly && gd._fullLayout) {
      window.Plotly.relayout(gd, {height: document.fullscreenElement === root ? root.clientHeight - 32
                                         : root.figureHeight});
    }
  });
  return root;
}

function installFrames(root) {
  const gd = root.gd, frames = root.pendingFrames;
  if (!frames || !window.Plotly || !gd._transitionData) return;
  root.pendingFrames = null;
  window.Plotly.deleteFrames(gd);  // synchronous, as addFrames: both before the click's animate
  if (frames.length) window.Plotly.addFrames(gd, frames);
}

function attachEvents(root, Plotly) {
  const gd = root.gd;
  gd.on("plotly_click", (ev) => {
    const pt = ev && ev.points && ev.points[0];
    if (!pt || !pt.xaxis || !pt.yaxis) return;
    let x = pt.x, y = pt.y;
    const type = pt.data && pt.data.type;
    if ((type === "contour" || type === "heatmap") && ev.event) {
      // the pointer's own position on the clicked trace's axes, not the centre of the grid cell under it
      const box = gd.querySelector(".draglayer") ? gd.getBoundingClientRect() : null;
      if (box) {
        const px = ev.event.clientX - box.left - pt.xaxis._offset, py = ev.event.clientY - box.top - pt.yaxis._offset;
        const cx = pt.xaxis.p2c(px), cy = pt.yaxis.p2c(py);
        if (Number.isFinite(cx) && Number.isFinite(cy)) { x = cx; y = cy; }
      }
    }
    root.setTriggerValue("click", {x, y, curve: pt.curveNumber, point: pt.pointNumber ?? null,
                                   name: (pt.data && pt.data.name) || null});
  });
  void Plotly;
}

// each draw's time on the page's clock (bench/trace_change.py reads it): which chart, from when to when
function log(root, phase, t0) {
  const charts = Array.from(document.querySelectorAll(".optlab-chart"));
  (window.__optlabChartLog ||= []).push({chart: charts.indexOf(root), phase, t0, t1: performance.now()});
  if (window.__optlabChartLog.length > 200) window.__optlabChartLog.shift();
}

async function draw(root, msg) {
  const Plotly = await loadPlotly();
  const gd = root.gd;
  const missing = [];
  const data = msg.data.map((r) => resolve(r, missing));
  const layout = {};
  for (const [name, r] of Object.entries(msg.layout)) {
    const value = resolve(r, missing);
    if (name === "") Object.assign(layout, value); else layout[name] = value;
  }
  const frames = msg.frames ? resolve(msg.frames, missing) : null;
  if (missing.length) { root.setTriggerValue("missing", missing); return; }
  root.figureHeight = layout.height;
  if (document.fullscreenElement === root) layout.height = root.clientHeight - 32;
  layout.template = template(root.themeKey || themeKey(root));
  const configKey = JSON.stringify(msg.config);
  if (root.configKey !== configKey) {
    // one object while the message's config is the same: Plotly.react diffs the config too, and a new button
    // (a new click function) made each draw a full replot. WebGL at the screen's pixel ratio, not Plotly's
    // default of 2 (four times the pixels to render where the screen has one per CSS pixel).
    root.config = {plotGlPixelRatio: window.devicePixelRatio || 1, ...msg.config,
                   modeBarButtonsToAdd: [fullscreenButton(root)]};
    root.configKey = configKey;
  }
  const config = root.config;
  root.style.minHeight = `${layout.height || 450}px`;
  const first = !gd._fullLayout;
  const t0 = performance.now();
  const framesChanged = frames !== root.frames;
  if (framesChanged) {
    // the animation's frames are handed to Plotly only when the animation is used (Play, the step slider):
    // adding a hundred frames on every draw was work for a view nobody may play
    root.frames = frames;
    root.pendingFrames = frames || [];
  }
  await Plotly.react(gd, {data, layout, config});
  if (first) attachEvents(root, Plotly);
  log(root, framesChanged ? "react+frames" : "react", t0);
  root.dataset.drawn = String((Number(root.dataset.drawn) || 0) + 1);
}

export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  const root = parentElement.querySelector(":scope > .optlab-chart") || setup(parentElement);
  root.setTriggerValue = setTriggerValue;
  if (!data) return;
  const text = new TextDecoder().decode(data);
  const key = themeKey(root);
  if (text === root.lastText && key === root.themeKey) return;  // the same message again, same theme
  root.lastText = text;
  root.themeKey = key;
  const msg = JSON.parse(text);
  root.chain = root.chain.then(() => draw(root, msg)).catch((err) => console.error("optlab chart:", err));
}
