"""Take the README's screenshot from the real app: python -m scripts.screenshot [out.png] [query]."""

import sys
import time
from pathlib import Path

from tests.browser import chromium, streamlit_server, wait_ready

ROOT = Path(__file__).resolve().parents[1]

out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png")
query = sys.argv[2] if len(sys.argv) > 2 else ""
out.parent.mkdir(parents=True, exist_ok=True)
with streamlit_server() as (base, _), chromium() as browser:
    # Streamlit scrolls inside its own container: a tall viewport shows the whole page
    page = browser.new_page(viewport={"width": 1600, "height": 3400 if "--full" in sys.argv else 1000})
    page.goto(f"{base}/?{query}")
    wait_ready(page)
    time.sleep(1.5)  # let plotly finish its layout
    page.screenshot(path=str(out))
    print(out)
