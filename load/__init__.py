"""Load and soak runs of the anyio layer over loopback (``python3 -m nox -s load``).

Not tests: they take minutes, and their figures go into docs/security.md. The
server runs in a process of its own (:mod:`load.server`) so that its RSS and
file descriptors are measured alone; clients run in other processes
(:mod:`load.client`); :mod:`load.__main__` drives them and reports.
"""
