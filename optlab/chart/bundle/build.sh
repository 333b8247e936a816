#!/usr/bin/env bash
# Rebuild ../assets/plotly-optlab.min.js (committed; users need no Node.js). Needs Node.js and npm.
# When the plotly Python package moves to another plotly.js, set that version in package.json and run this.
set -euo pipefail
cd "$(dirname "$0")"
npm install --no-audit --no-fund --no-save
version=$(node -p 'require("plotly.js/package.json").version')
out=$(mktemp -d)
# (plotly's map traces import a stylesheet; they are not in this bundle, and the CSS esbuild writes beside it
# is left out)
npx esbuild entry.js --bundle --minify --define:global=window --legal-comments=none --log-level=warning \
  --outfile="$out/plotly.js"
{
  printf '/* plotly.js v%s, a partial bundle (optlab/chart/bundle/entry.js). Copyright 2012-2026, Plotly, Inc. MIT license */\n' "$version"
  cat "$out/plotly.js"
} > ../assets/plotly-optlab.min.js
rm -rf node_modules package-lock.json "$out"
echo "built ../assets/plotly-optlab.min.js (plotly.js $version, $(wc -c < ../assets/plotly-optlab.min.js) bytes)"
