// The plotly.js the app draws with (optlab/chart): plotly.js's core (scatter, the cartesian axes, the modebar,
// animation, toImage) and the other trace types the app's figures use. Built by build.sh into
// ../assets/plotly-optlab.min.js, which is committed: evaluating plotly's full bundle (4.8 MB) took ~1.9 s of
// a page load's main thread here, this one (1.75 MB) ~0.4–0.7 s. tests/test_chart_bundle.py checks that every
// trace type the app's figures use is registered here and that the version is the plotly package's plotly.js.
var Plotly = require("plotly.js/lib/core");

Plotly.register([  // TRACES (the test reads this list)
  require("plotly.js/lib/contour"),
  require("plotly.js/lib/heatmap"),
  require("plotly.js/lib/surface"),
  require("plotly.js/lib/scatter3d"),
]);

window.Plotly = Plotly;
