"""The dashboard's script inside the package, for `optlab-lab` (optlab/cli.py): the same as the repo's app.py."""

from optlab.dashboard import main

main()
