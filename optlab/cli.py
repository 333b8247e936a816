"""`optlab-lab`: start the dashboard, as `streamlit run app.py` does from the repo's folder.

    optlab-lab [streamlit run options...]     e.g. optlab-lab --server.port 8502 --server.headless true

The script it runs is optlab/_app.py, installed with the package. The repo's .streamlit/config.toml is
read only by a server started in the repo's folder, so its settings are passed here on the command line
(options given to optlab-lab come after them, and win).
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().with_name("_app.py")
# the same as .streamlit/config.toml: a short message for an unexpected error, never a traceback with the
# server's paths; no developer chrome (Deploy, the developer menu); no usage statistics; no full garbage
# collection after every script run (it held the GIL ~0.3 s a rerun, delaying the rerun's messages)
OPTIONS = ("--client.showErrorDetails", "none", "--client.toolbarMode", "viewer", "--browser.gatherUsageStats", "false",
           "--runner.postScriptGC", "false")


def main(argv: list[str] | None = None) -> None:
    """Run `streamlit run optlab/_app.py` in this process with ``argv`` (default: the command line's) after
    the options above. Does not return: streamlit's command line exits with its status."""
    from streamlit.web import cli as streamlit_cli

    args = sys.argv[1:] if argv is None else list(argv)
    streamlit_cli.main(["run", str(APP), *OPTIONS, *args], prog_name="optlab-lab")


if __name__ == "__main__":
    main()
