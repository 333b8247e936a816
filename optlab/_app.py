"""The dashboard's script inside the package, for `optlab-lab` (optlab/cli.py): the same as the repo's app.py."""

from optlab.dashboard import main

if __name__ == "__main__":  # as app.py: not in the worker process that imports it as __mp_main__ (optlab.chunks)
    main()
