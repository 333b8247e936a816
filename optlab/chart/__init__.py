"""One Plotly element for every chart of the app, updated in place (issue 12).

``st.plotly_chart`` derives its element's identity from the figure, so every new figure
replaces the chart's div and WebGL context: ~0.6 s for the 3-D surface, camera and zoom
lost. This element is a Streamlit custom component (v2, no iframe) that keeps its div
across reruns and applies each new figure with ``Plotly.react``; the figures'
``layout.uirevision`` then keeps the camera and the zoom.

Only what changed travels. A figure is cut in parts (each trace, each larger layout entry,
the animation frames), each named by a hash of its JSON. The browser keeps the parts it
has been sent (one store per page, shared by every chart); the server remembers per
session which hashes it sent and sends the others as bare references. A browser missing
a part (an element that never rendered a message) asks for it back (the ``missing``
event) and the next run sends it whole.

plotly.js is served once per page from the component's asset directory: a partial bundle of the
plotly package's plotly.js version with the trace types the app draws (``assets/plotly-optlab.min.js``,
built by ``bundle/build.sh`` and committed: the full bundle's evaluation was ~1.9 s of a page load's
main thread here, this one's ~0.4–0.7 s). Streamlit serves the asset_dir that pyproject.toml declares.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

NAME = "optimizer-lab.chart"  # <project name>.<component name> of pyproject.toml
ASSETS = Path(__file__).with_name("assets")
PLOTLY_BUNDLE = "plotly-optlab.min.js"  # chart.js loads it by this name
SENT = "_chart:sent"  # session_state: the hashes of the parts this session's browser was sent
BIG = 400  # bytes: a layout entry this large is a part of its own; smaller ones travel together
STORE_SIZE = 512  # parts kept on the server for spec() (tests, AppTest): the newest ones

_lock = threading.Lock()
_renderer = None
_store: OrderedDict[str, bytes] = OrderedDict()  # hash -> part's JSON, process-wide


def plotly_js() -> Path:
    """The plotly.js the chart element loads: the committed partial bundle (no CDN, no Node.js needed)."""
    return ASSETS / PLOTLY_BUNDLE


def _component():
    global _renderer
    with _lock:
        if _renderer is None:
            import streamlit as st

            _renderer = st.components.v2.component(NAME, js="chart.js", css="chart.css", isolate_styles=False)
    return _renderer


def _hash(part: bytes) -> str:
    return hashlib.blake2b(part, digest_size=8).hexdigest()


def _keep(part: bytes) -> str:
    h = _hash(part)
    with _lock:
        _store[h] = part
        _store.move_to_end(h)
        while len(_store) > STORE_SIZE:
            _store.popitem(last=False)
    return h


def parts(fig) -> dict[str, Any]:
    """The figure (a go.Figure or a plots.FigureSpec) as parts: {"data": [json...], "layout": {name: json},
    "frames": json or None}.

    Layout entries under BIG bytes are grouped in the part named "" (the figure's template is dropped: the
    element applies Streamlit's theme, as st.plotly_chart does).
    """
    if isinstance(fig, dict):  # a plots.FigureSpec: written straight from its dicts and arrays
        from optlab.plots import to_json

        spec = orjson.loads(to_json(fig))
    else:
        import plotly.io as pio

        spec = orjson.loads(pio.to_json(fig, validate=False, engine="orjson"))
    layout = spec.get("layout", {})
    layout.pop("template", None)
    small, big = {}, {}
    for name, value in layout.items():
        text = orjson.dumps(value)
        (big if len(text) >= BIG else small)[name] = text if len(text) >= BIG else value
    big[""] = orjson.dumps(small)
    frames = spec.get("frames")
    return {"data": [orjson.dumps(t) for t in spec.get("data", [])], "layout": big,
            "frames": orjson.dumps(frames) if frames else None}


def _parts_of(fig) -> dict[str, Any]:
    """parts(fig), kept on the figure: the app's figures are cached and never changed after they are built, and
    writing one's JSON again on every rerun took ~15 ms of a rerun that changed nothing."""
    p = getattr(fig, "_optlab_parts", None)
    if p is None:
        p = parts(fig)
        fig._optlab_parts = p
    return p


def message(fig, sent: set[str], config: dict | None = None) -> bytes:
    """What the browser gets: every part by hash, with its JSON only if this session was not sent it yet.
    ``fig`` must not change after its first message (its parts are kept on it)."""
    p = _parts_of(fig)

    def ref(part: bytes) -> bytes:
        h = _keep(part)
        if h in sent:
            return b'{"h":"' + h.encode() + b'"}'
        sent.add(h)
        return b'{"h":"' + h.encode() + b'","j":' + part + b"}"

    data = b",".join(ref(t) for t in p["data"])
    layout = b",".join(orjson.dumps(name) + b":" + ref(v) for name, v in p["layout"].items())
    frames = ref(p["frames"]) if p["frames"] is not None else b"null"
    return (b'{"data":[' + data + b'],"layout":{' + layout + b'},"frames":' + frames + b',"config":'
            + orjson.dumps(config or {}) + b"}")


def spec(message_bytes: bytes) -> dict:
    """The whole figure a message stands for (resolved with the server's store): for tests and AppTest."""
    msg = orjson.loads(message_bytes)

    def resolve(r):
        if "j" in r:
            return r["j"]
        with _lock:
            return orjson.loads(_store[r["h"]])

    layout = {}
    for name, r in msg["layout"].items():
        value = resolve(r)
        if name == "":
            layout.update(value)
        else:
            layout[name] = value
    out = {"data": [resolve(r) for r in msg["data"]], "layout": layout}
    if msg.get("frames"):
        out["frames"] = resolve(msg["frames"])
    return out


def plotly_chart(fig, *, key: str, on_click: Callable[[dict], None] | None = None,
                 config: dict | None = None):
    """Draw a Plotly figure in the element keyed ``key`` (kept across reruns, updated in place).

    ``on_click``: called (as a callback, before the script reruns) with ``{"x", "y", "curve"}`` of the point
    Plotly's click event gives, on the axes of the clicked trace. Returns the component's result
    (``.click``: the click of this run, or None).
    """
    import streamlit as st

    sent = st.session_state.setdefault(SENT, set())

    def _missing() -> None:  # the browser lacks parts it was sent as references: send them whole
        value = st.session_state.get(key)
        hashes = (value or {}).get("missing") if hasattr(value, "get") else None
        st.session_state.setdefault(SENT, set()).difference_update(hashes or [])

    def _clicked() -> None:
        value = st.session_state.get(key)
        point = value.get("click") if hasattr(value, "get") else None
        if point and on_click is not None:
            on_click(point)

    body = message(fig, sent, {"displaylogo": False, **(config or {})})
    return _component()(key=key, data=body, height="content", on_click_change=_clicked,
                        on_missing_change=_missing)
