"""The partial plotly.js bundle the chart element loads (optlab/chart/bundle): the plotly package's plotly.js
version, and every trace type the app's figures use registered in it (an unregistered type is drawn by
plotly.js as a scatter, with only a console warning)."""

import re
from pathlib import Path

import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType
from plotly.offline import get_plotlyjs_version

from optlab import chart

ROOT = Path(__file__).resolve().parents[1]
TRACES = {name.lower() for name in dir(go) if isinstance(getattr(go, name), type)
          and issubclass(getattr(go, name), BaseTraceType)}


def registered() -> set[str]:
    entry = (ROOT / "optlab" / "chart" / "bundle" / "entry.js").read_text()
    return {"scatter"} | set(re.findall(r'require\("plotly\.js/lib/(\w+)"\)', entry))  # scatter: in the core


def used() -> set[str]:
    """Trace types the app's code builds: go.<Trace>(...) objects and {"type": ...} / type=... specs."""
    out = set()
    for path in (ROOT / "optlab").rglob("*.py"):
        text = path.read_text()
        out |= {m.lower() for m in re.findall(r"\bgo\.(\w+)\(", text)} & TRACES
        out |= set(re.findall(r"""(?:\btype=|["']type["']:\s*)["'](\w+)["']""", text)) & TRACES
    return out


def test_the_bundle_is_the_plotly_packages_plotly_js_version():
    # major.minor: the figures' JSON is what that plotly.js reads (pyproject pins plotly to one minor release;
    # a patch of plotly.js may differ until bundle/build.sh is run again)
    head = chart.plotly_js().read_text()[:200]
    bundled = re.search(r"plotly\.js v(\d+\.\d+)\.\d+", head)
    assert bundled and bundled.group(1) == get_plotlyjs_version().rsplit(".", 1)[0], (head, get_plotlyjs_version())


def test_every_trace_type_the_app_draws_is_in_the_bundle():
    assert {"scatter", "contour", "surface", "heatmap", "scatter3d"} <= used()  # the scan finds the figures
    assert used() <= registered(), used() - registered()


def test_the_bundle_defines_plotly_and_is_far_smaller_than_the_full_one():
    import plotly

    full = Path(plotly.__file__).with_name("package_data") / "plotly.min.js"
    text = chart.plotly_js().read_text()
    assert "window.Plotly" in text
    assert len(text) < 0.5 * full.stat().st_size
