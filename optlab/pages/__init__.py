"""The dashboard's pages (st.navigation): each a module whose ``page`` function reads as a table of contents.

compare   the default page: trajectories side by side, the table, the step inspector
explore   many runs at once: sensitivity sweeps, basin maps, seed bands (a link's ``explore=`` opens it)
networks  a network plane's network trained in all its weights, projected onto one plane (``train=true``)
"""
