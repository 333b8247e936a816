// The app's Plotly element (optlab/chart/__init__.py): one div per chart, kept across reruns, new figures
// applied with Plotly.react (the figures' uirevision keeps camera and zoom). Parts of figures travel once:
// PARTS holds every part this page was sent, by hash, for all charts.

const PLOTLY_URL = new URL("./plotly-optlab.min.js", import.meta.url).href;  // optlab/chart/bundle
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
    const [text, bg0, font, clear] = key.split("|");
    const bg = clear ? CLEAR : bg0;
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

const UNDER_CONFIG = {staticPlot: true, displayModeBar: false, responsive: false};

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
  gd.className = "optlab-plot";  // the chart's own div (tests and benchmarks find it by this class)
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
    if (!gd._fullLayout || !window.Plotly || !gd.isConnected || !gd.offsetParent) return;
    if (root.clientWidth === root.seenWidth) return;  // only the chart's own height changed (its draw set it)
    root.seenWidth = root.clientWidth;
    const Plotly = window.Plotly;
    if (root.lastMsg && root.narrow !== isNarrow(root)) {  // crossed: the other fit (fitWidth)
      const msg = root.lastMsg;
      root.chain = root.chain.then(() => draw(root, msg)).catch((err) => console.error("optlab chart:", err));
      return;
    }
    root.chain = root.chain.then(() => Plotly.Plots.resize(gd))
      .then(() => root.under && root.under._fullLayout && Plotly.Plots.resize(root.under))
      .then(() => alignPlotAreas(root)).then(() => placeControls(root, root.controls))  // the slider as wide as the plot
      .catch((err) => console.error("optlab chart:", err));
  }).observe(root);
  root.addEventListener("fullscreenchange", () => {  // drawn again at the screen's height (draw), or the figure's
    if (window.Plotly && gd._fullLayout && root.lastMsg) {
      const msg = root.lastMsg;
      root.margin = null;  // (the margins aligned at the other size)
      root.chain = root.chain.then(() => draw(root, msg)).catch((err) => console.error("optlab chart:", err));
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

// The landscape in a layer of its own. Plotly recomputes every trace of a chart whenever any trace's data
// changes, and a filled contour's marching squares are most of a redraw (~200 of ~250 ms for an lr change
// here). So a chart's contour traces that come first on their axes are drawn in a second div underneath
// (static: no events), which is redrawn only when they change, the plot area moves or the zoom does. The div on
// top (transparent, same layout, same plot area) has every other trace, the axes, legend, animation and
// events; a transparent heatmap on the contour's grid there takes its hover and the click that sets the start.
const CLEAR = "rgba(0,0,0,0)";
const HIT = new WeakMap();  // a contour trace -> its hover and click layer (one object: Plotly sees it unchanged)

function layers(data) {
  const taken = new Set(), under = [], over = [];
  for (const t of data) {
    const axes = `${t.xaxis || "x"}/${t.yaxis || "y"}`;
    const flat = t.type === "contour" && !taken.has(axes) && t.x && t.y && t.z && !t.scene;
    if (flat) { under.push(t); over.push(hitLayer(t)); } else { over.push(t); }
    taken.add(axes);
  }
  return under.length ? {under, over} : null;
}

function hitLayer(t) {
  if (!HIT.has(t)) {
    const cols = t.x.length, rows = t.y.length;
    const zero = new Uint8Array(cols * rows);
    HIT.set(t, {type: "heatmap", x: t.x, y: t.y, xaxis: t.xaxis, yaxis: t.yaxis, name: t.name,
                z: Array.from({length: rows}, (_, r) => zero.subarray(r * cols, (r + 1) * cols)),
                zmin: 0, zmax: 1, colorscale: [[0, CLEAR], [1, CLEAR]], showscale: false, zsmooth: "fast",
                hovertemplate: t.hovertemplate, hoverinfo: t.hoverinfo, hoverongaps: true});
  }
  return HIT.get(t);
}

const AXIS = /^[xy]axis\d*$/;

// the top div's layout: see-through, no grid lines (they would cross the contour), everything else as given
function overLayout(layout) {
  const out = {...layout, paper_bgcolor: CLEAR, plot_bgcolor: CLEAR};
  for (const [k, v] of Object.entries(layout)) if (AXIS.test(k)) out[k] = {...v, showgrid: false, zeroline: false};
  return out;
}

// every cartesian axis's range as a div draws it now (its zoom): {xaxis: [lo, hi], yaxis2: ...}
function rangesOf(gd) {
  const full = gd._fullLayout, out = {};
  for (const k of Object.keys(full)) if (AXIS.test(k) && full[k].range) out[k] = full[k].range.slice();
  return out;
}

// the div underneath: the landscape on the top div's axes ranges (its zoom), nothing that is drawn on top
function underLayout(layout, over) {
  const out = {height: layout.height, width: layout.width, autosize: layout.autosize, margin: layout.margin,
               uirevision: layout.uirevision, showlegend: false, hovermode: false, dragmode: false,
               template: layout.template, font: layout.font, paper_bgcolor: layout.paper_bgcolor,
               plot_bgcolor: layout.plot_bgcolor};
  for (const [k, v] of Object.entries(layout)) if (AXIS.test(k)) out[k] = {...v, visible: false};
  for (const [k, range] of Object.entries(rangesOf(over))) {  // a trace's own axes too, where the layout has none
    out[k] = {...out[k], visible: false, range, autorange: false};
  }
  return out;
}

function marginsOf(gd) {
  const s = gd._fullLayout._size;
  return {l: s.l, r: s.r, t: s.t, b: s.b};
}

const SIDES = ["l", "r", "t", "b"];

// both divs' plot areas the same: each side's margin as the larger of the two (the colour bar pushes the one
// underneath, the legend, buttons and slider the one on top); remembered for the next draw of this figure
async function alignPlotAreas(root) {
  const Plotly = window.Plotly, over = root.gd, under = root.under;
  if (!root.layered || !under || !under._fullLayout || !over._fullLayout) return;
  const a = marginsOf(over), b = marginsOf(under), shift = root.shift || 0;
  b.t += shift;  // (it sits `shift` px lower: keepPlotArea)
  if (SIDES.every((s) => Math.abs(a[s] - b[s]) < 0.5)) return;
  const m = Object.fromEntries(SIDES.map((s) => [s, Math.max(a[s], b[s])]));
  const margin = {...m, t: m.t - shift};  // as the figure's margins, before keepPlotArea's: the one underneath's
  root.margin = margin;
  const updateOf = (sides) => Object.fromEntries(SIDES.map((s) => [`margin.${s}`, sides[s]]));
  if (SIDES.some((s) => Math.abs(a[s] - m[s]) >= 0.5)) await Plotly.relayout(over, updateOf(m));
  if (SIDES.some((s) => Math.abs(b[s] - m[s]) >= 0.5)) {
    await Plotly.relayout(under, updateOf(margin));
    if (under.__optlabRest) {  // what it is drawn with now: the next draw that gives the same does not redraw it
      under.__optlabRest = {...under.__optlabRest, margin: {...under.__optlabRest.margin, ...margin}};
      under.__optlabKey = JSON.stringify(under.__optlabRest);
    }
  }
}

function underDiv(root) {
  if (!root.under) {
    const under = document.createElement("div");
    under.className = "optlab-under";
    root.insertBefore(under, root.gd);
    root.under = under;
  }
  root.under.style.display = "";
  return root.under;
}

// the top div's zoom, pan or reset, followed by the landscape underneath
function followZoom(root) {
  root.gd.on("plotly_relayout", (ev) => {
    if (!root.layered || !root.under || !root.under._fullLayout) return;
    if (!Object.keys(ev || {}).some((k) => /^[xy]axis\d*\.(range|autorange)/.test(k))) return;
    const update = {};
    for (const [k, range] of Object.entries(rangesOf(root.gd))) {
      if (root.under._fullLayout[k]) Object.assign(update, {[`${k}.range`]: range, [`${k}.autorange`]: false});
    }
    const t0 = performance.now();
    // its layout is no longer the one last given: the next draw gives it again
    root.under.__optlabKey = root.under.__optlabRest = null;
    root.chain = root.chain.then(() => window.Plotly.relayout(root.under, update)).then(() => log(root, "under", t0))
      .catch((err) => console.error("optlab chart:", err));
  });
}

// A 3-D surface rebuilt only when it changed. Plotly's scene calls every trace's update on each draw, and the
// surface's rebuilds its vertices (an 80×80 grid refined to 128 and more, with normals and contour buffers):
// ~80 of ~100 ms of the 3-D chart's redraw for an lr change, which moves only the trajectories. The update is
// skipped while it would read the same things: the same input trace (the parts' objects, see resolve), the same
// scene scale, axis types and contour levels.
function keepSurfaces(gd) {
  const scene = gd._fullLayout && gd._fullLayout.scene && gd._fullLayout.scene._scene;
  if (!scene || !scene.traces) return;
  for (const obj of Object.values(scene.traces)) {
    if (!obj || !obj.surface || obj.__optlabKept || typeof obj.update !== "function") continue;
    const update = obj.update;
    const keyOf = (data) => {
      const axes = scene.fullSceneLayout || {};
      return [data.visible, (scene.dataScale || []).join(), ["xaxis", "yaxis", "zaxis"].map((a) => (axes[a] || {}).type)
        .join(), JSON.stringify(scene.contourLevels || null)].join("|");
    };
    obj.__optlabKept = true;
    obj.update = function (data) {
      const key = keyOf(data);
      if (data && data._input && data._input === this.__optlabInput && key === this.__optlabKey) {
        this.data = data;  // what hover and the scene read; the surface's buffers are as they were
        return;
      }
      update.call(this, data);
      gd.__optlabSurfaceBuilds = (gd.__optlabSurfaceBuilds || 0) + 1;  // tests count these
      this.__optlabInput = data && data._input;
      this.__optlabKey = key;
    };
    obj.__optlabInput = obj.data && obj.data._input;
    obj.__optlabKey = obj.data ? keyOf(obj.data) : null;
  }
}

// the chart as a PNG (the modebar's camera): both layers, the landscape under the rest
async function savePng(root) {
  const Plotly = window.Plotly, size = root.gd._fullLayout;
  const opts = {format: "png", width: size.width, height: size.height};
  const divs = root.layered ? [root.under, root.gd] : [root.gd];
  const urls = await Promise.all(divs.map((gd) => Plotly.toImage(gd, opts)));
  const images = await Promise.all(urls.map((url) => new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = reject;
    image.src = url;
  })));
  const canvas = document.createElement("canvas");
  canvas.width = images[0].width;
  canvas.height = images[0].height;
  const ctx = canvas.getContext("2d");
  for (const image of images) ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  const a = document.createElement("a");
  a.href = canvas.toDataURL("image/png");
  a.download = "optimizer-lab.png";
  a.click();
}

function pngButton(root) {
  return {
    name: "png", title: "Download plot as a PNG",
    icon: {width: 1000, height: 1000, path: "m500 450c-83 0-150-67-150-150 0-83 67-150 150-150 83 0 150 67 150 150 0 83-67 150-150 150z m400 150h-120c-16 0-34 13-39 29l-31 93c-6 15-23 28-40 28h-340c-16 0-34-13-39-28l-31-94c-6-15-23-28-40-28h-120c-55 0-100-45-100-100v-450c0-55 45-100 100-100h800c55 0 100 45 100 100v450c0 55-45 100-100 100z m-400-550c-138 0-250 112-250 250 0 138 112 250 250 250 138 0 250-112 250-250 0-138-112-250-250-250z m365 380c-19 0-35 16-35 35 0 19 16 35 35 35 19 0 35-16 35-35 0-19-16-35-35-35z", transform: "matrix(1 0 0 -1 0 850)"},
    click: () => savePng(root).catch((err) => console.error("optlab chart:", err)),
  };
}

// each draw's time on the page's clock (bench/trace_change.py reads it): which chart, from when to when
function log(root, phase, t0) {
  const charts = Array.from(document.querySelectorAll(".optlab-chart"));
  (window.__optlabChartLog ||= []).push({chart: charts.indexOf(root), phase, t0, t1: performance.now()});
  if (window.__optlabChartLog.length > 200) window.__optlabChartLog.shift();
}

// The animation's Play/Pause buttons and step slider as page controls under the chart, not Plotly's own:
// Plotly redraws its slider (a hundred steps, each a tick and a label it measures) and its buttons on every
// draw, ~40-60 ms of the contour chart's redraw for an lr change here, and a native range input is easier to
// use on a phone and with the keyboard. The controls call what the figure's buttons and steps say
// (Plotly.animate with their args); a figure whose menus do something else keeps Plotly's.
const CONTROLS_BOTTOM = 70;  // px under the plot area once the controls are out of it: the x axis and its title

function takeControls(layout) {
  const menus = layout.updatemenus || [], sliders = layout.sliders || [];
  const buttons = menus.flatMap((m) => m.buttons || []);
  const steps = sliders.length === 1 ? sliders[0].steps || [] : [];
  const animates = (b) => b.method === "animate" && Array.isArray(b.args);
  if (!steps.length || menus.length > 1 || !buttons.every(animates) || !steps.every(animates)) return null;
  delete layout.updatemenus;
  delete layout.sliders;
  const margin = layout.margin || {};
  if (margin.b > CONTROLS_BOTTOM) {  // the plot area as tall as with Plotly's controls under it
    if (layout.height) layout.height -= margin.b - CONTROLS_BOTTOM;
    layout.margin = {...margin, b: CONTROLS_BOTTOM};
  }
  const names = steps.map((st) => String((st.args[0] || [])[0]));
  return {buttons, steps, names, index: new Map(names.map((n, i) => [n, i])),
          active: Math.min(sliders[0].active ?? steps.length - 1, steps.length - 1),
          prefix: (sliders[0].currentvalue || {}).prefix || "", key: JSON.stringify([buttons, names])};
}

function animate(root, args) {
  installFrames(root);
  const done = window.Plotly.animate(root.gd, ...args);
  if (done && done.catch) done.catch(() => {});  // an animation interrupted by the next one
}

function showStep(root, i) {
  const c = root.controls, bar = root.bar;
  if (!c || !bar) return;
  bar.input.value = String(i);
  bar.label.textContent = `${c.prefix}${c.steps[i].label ?? c.names[i]}`;
}

function controlsBar(root) {
  if (!root.bar) {
    const bar = document.createElement("div");
    bar.className = "optlab-controls";
    bar.buttons = document.createElement("div");
    bar.buttons.className = "optlab-buttons";
    bar.label = document.createElement("span");
    bar.label.className = "optlab-step";
    bar.buttons.appendChild(bar.label);
    bar.input = document.createElement("input");
    bar.input.type = "range";
    bar.input.min = "0";
    bar.input.step = "1";
    bar.input.setAttribute("aria-label", "step of the animation");
    bar.append(bar.buttons, bar.input);
    bar.input.addEventListener("input", () => {
      const c = root.controls, i = Number(bar.input.value);
      if (!c || !c.steps[i]) return;
      showStep(root, i);
      animate(root, c.steps[i].args);
    });
    root.appendChild(bar);
    root.bar = bar;
    root.gd.on && root.gd.on("plotly_animatingframe", (ev) => {
      const i = root.controls && root.controls.index.get(String(ev && ev.name));
      if (i !== undefined) showStep(root, i);
    });
  }
  return root.bar;
}

function placeControls(root, controls) {
  root.controls = controls;
  if (!controls) { if (root.bar) root.bar.style.display = "none"; return; }
  const bar = controlsBar(root);
  bar.style.display = "";
  if (bar.key !== controls.key) {
    bar.buttons.querySelectorAll("button").forEach((b) => b.remove());
    for (const spec of controls.buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = spec.label;
      button.addEventListener("click", () => animate(root, spec.args));
      bar.buttons.insertBefore(button, bar.label);
    }
    bar.input.max = String(controls.steps.length - 1);
    bar.key = controls.key;
  }
  showStep(root, controls.active);
  const size = root.gd._fullLayout && root.gd._fullLayout._size;
  if (size) {  // the slider spans the plot area, as Plotly's did
    bar.style.paddingLeft = `${size.l}px`;
    bar.input.style.width = `${size.w}px`;
  }
}

// On a narrow screen (a phone): a 2-D chart's side margins, sized for a wide screen's tick labels and colour
// bar, made smaller: the contour's plot area was half of a 358 px chart (Plotly's automatic margins still grow
// them where the ticks need more). A resize that crosses the width draws the figure again (setup's
// ResizeObserver). (A 3-D scene made shorter to fill its width was tried: Plotly drew the surface smaller.)
const NARROW = 480;

function isNarrow(root) {
  return root.clientWidth > 0 && root.clientWidth < NARROW;
}

function fitWidth(root, layout) {
  root.narrow = isNarrow(root);
  if (!root.narrow || document.fullscreenElement === root || layout.scene || !layout.margin) return;
  const margin = layout.margin;
  layout.margin = {...margin, l: Math.min(margin.l ?? 80, 55), r: Math.min(margin.r ?? 80, 80)};
}

// The plot area kept whatever the legend's rows. A horizontal legend above the plot pushes the top margin down
// when it wraps to another row (a third optimizer on a desktop, fewer on a phone), and Plotly then shrinks the
// plot area: the landscape's layer underneath was drawn again (~130 ms of adding an optimizer here) and the
// contour jumped. So the rows are estimated before Plotly draws, with Plotly's own rule (plotly.js 4.1,
// components/legend/draw.js, computeLegendDimensions: items of 40 px + their text, 5 px apart, wrapped at the
// plot's width; grouped items in rows 10 px apart), and the chart is made taller by what the extra rows add to
// the top margin. An estimate that is off costs only that redraw (or a blank strip above the legend), never a
// wrong picture: Plotly still lays out the legend and its margin.
const LEGEND = {item: 40, gap: 5, groupGap: 10, endPad: 10, lineSpacing: 1.3, slack: 2};
let measure = null;

function textWidth(text, font) {
  measure ||= document.createElement("canvas").getContext("2d");
  measure.font = font;
  return measure.measureText(text).width;
}

// a legend item's height (legend/draw.js: one line of text, at least 16 px, + 3)
function itemHeight(size) {
  return Math.max(size * LEGEND.lineSpacing, 16) + 3;
}

function legendHeight(data, legend, size, family, width) {
  const shown = data.filter((t) => t && (t.type || "scatter") === "scatter" && t.showlegend !== false
                                   && t.visible !== false);
  if (!shown.length) return 0;
  const itemH = itemHeight(size);
  const font = `${size}px ${family}`;
  const widthOf = (t) => LEGEND.item + textWidth(String(t.name ?? ""), font) + LEGEND.slack;
  if (!shown.some((t) => t.legendgroup !== undefined && t.legendgroup !== "")) {  // not grouped: one row, or a grid
    const widths = shown.map(widthOf), widest = Math.max(...widths);
    if (widths.reduce((a, b) => a + b, 0) + (widths.length - 1) * LEGEND.gap < width) return itemH + LEGEND.endPad;
    let rows = 1, x = 0;  // every item as wide as the widest
    for (const _ of widths) {
      if (x > 0 && widest + x >= width) { rows += 1; x = 0; }
      x += widest + LEGEND.gap;
    }
    return rows * itemH + LEGEND.endPad;
  }
  const groups = new Map();  // a trace without a group is a group of its own, in the order of the data
  shown.forEach((t, i) => {
    const key = t.legendgroup !== undefined && t.legendgroup !== "" ? `g:${t.legendgroup}` : `t:${i}`;
    const g = groups.get(key) || {w: 0, h: 0};
    groups.set(key, {w: Math.max(g.w, widthOf(t)), h: g.h + itemH});
  });
  let y = 0, x = 0, rowH = 0;
  for (const g of groups.values()) {
    const next = g.w + LEGEND.gap;
    if (x > 0 && next + x > width) { y += rowH + LEGEND.groupGap; x = 0; rowH = g.h; } else rowH = Math.max(rowH, g.h);
    x += next;
  }
  return y + rowH + LEGEND.endPad;
}

// (the px the chart grows by, 0 if none: the layer underneath keeps the figure's height and sits that much lower)
function keepPlotArea(root, data, layout) {
  const legend = layout.legend || {}, margin = layout.margin;
  if (layout.showlegend === false || legend.orientation !== "h" || !(legend.y >= 1) || legend.yanchor !== "bottom"
      || !layout.height || !margin || margin.t === undefined || margin.b === undefined
      || document.fullscreenElement === root) return 0;
  // the plot's width: as last drawn, plus what the chart's width changed since (full screen left, a resize)
  const full = root.gd._fullLayout;
  const width = full ? full._size.w + root.clientWidth - full.width : root.clientWidth - (margin.l ?? 80) - (margin.r ?? 80);
  if (!(width > 0)) return 0;
  const family = (legend.font && legend.font.family) || (layout.font && layout.font.family)
    || (root.themeKey || themeKey(root)).split("|")[2];
  const size = (legend.font && legend.font.size) || (layout.font && layout.font.size) || 14;
  const h = legendHeight(data, legend, size, family, width);
  const oneRow = itemHeight(size) + LEGEND.endPad;
  const plot = layout.height - margin.t - margin.b;  // the plot area's height, as the figure sets it
  // the top margin a legend this tall needs: its height, its gap above the plot, and Plotly's 12 px pad
  // (plots.autoMargin: 12, or the smallest margin if less)
  const pad = Math.min(12, margin.l ?? 80, margin.r ?? 80, margin.t, margin.b);
  const need = (height) => Math.ceil(Math.ceil(height) + (legend.y - 1) * plot + pad) + 1;
  const extra = Math.max(margin.t, need(h)) - Math.max(margin.t, need(oneRow));
  if (!(extra > 0)) return 0;
  layout.margin = {...margin, t: margin.t + extra};
  layout.height += extra;
  return extra;
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
  const controls = takeControls(layout);
  fitWidth(root, layout);
  if (document.fullscreenElement === root) {
    layout.height = root.clientHeight - 32 - (controls && root.bar ? root.bar.offsetHeight : 0);
  }
  layout.template = template(root.themeKey || themeKey(root));
  const configKey = JSON.stringify(msg.config);
  if (root.configKey !== configKey) {
    // one object while the message's config is the same: Plotly.react diffs the config too, and a new button
    // (a new click function) made each draw a full replot. WebGL at the screen's pixel ratio, not Plotly's
    // default of 2 (four times the pixels to render where the screen has one per CSS pixel).
    root.config = {plotGlPixelRatio: window.devicePixelRatio || 1, ...msg.config,
                   modeBarButtonsToRemove: ["toImage"], modeBarButtonsToAdd: [pngButton(root), fullscreenButton(root)]};
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
  const split = layers(data);
  root.layered = Boolean(split);
  if (!split) {
    if (root.under) { Plotly.purge(root.under); root.under.style.display = "none"; }
    await Plotly.react(gd, {data, layout, config});
  } else {
    const marginKey = JSON.stringify(layout.margin || null);
    if (root.marginKey !== marginKey) { root.marginKey = marginKey; root.margin = null; }
    if (root.margin) layout.margin = {...layout.margin, ...root.margin};
    const shift = keepPlotArea(root, data, layout);
    root.shift = shift;
    root.style.minHeight = `${layout.height}px`;
    layout.template = template(`${root.themeKey || themeKey(root)}|clear`);
    await Plotly.react(gd, {data: split.over, layout: overLayout(layout), config});
    const under = underDiv(root);
    layout.template = template(root.themeKey || themeKey(root));
    const below = underLayout(layout, gd);
    const a = marginsOf(gd);  // the top div's plot area: the one underneath starts from it (drawn once)
    below.margin = {...layout.margin,  // (layout.margin holds root.margin, the sides aligned before)
                    ...Object.fromEntries(SIDES.map((s) => [s, Math.max(a[s], (layout.margin || {})[s] ?? 0)]))};
    below.height -= shift;  // the figure's own height and top margin, `shift` px lower: unchanged by the legend
    below.margin.t -= shift;
    under.style.top = shift ? `${shift}px` : "";
    // redrawn only when its traces or its layout changed (a react that changes nothing still took ~20 ms)
    const {template: tmpl, ...rest} = below;
    const underKey = JSON.stringify(rest);
    if (under.__optlabTemplate !== tmpl || underKey !== under.__optlabKey || !under._fullLayout
        || split.under.length !== (under.__optlabData || []).length
        || split.under.some((t, i) => t !== under.__optlabData[i])) {
      const t1 = performance.now();
      await Plotly.react(under, {data: split.under, layout: below, config: UNDER_CONFIG});
      // remembered with the margins it was drawn with (its colour bar may have pushed them): a next draw that
      // asks for those is the same drawing (from the key: Plotly fills in the layout objects it is given)
      const drawn = JSON.parse(underKey);
      drawn.margin = {...drawn.margin, ...marginsOf(under)};
      Object.assign(under, {__optlabTemplate: tmpl, __optlabKey: JSON.stringify(drawn), __optlabRest: drawn,
                            __optlabData: split.under});
      log(root, "under", t1);
    }
    await alignPlotAreas(root);
  }
  keepSurfaces(gd);
  if (first) { attachEvents(root, Plotly); followZoom(root); }
  placeControls(root, controls);
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
  root.lastMsg = msg;
  root.chain = root.chain.then(() => draw(root, msg)).catch((err) => console.error("optlab chart:", err));
}
