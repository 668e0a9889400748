"""Our host and scim2-server side by side (issue #11): `make bench-compare` / `python -m bench compare`.

run.py         the run: servers, alternating rounds, CPU from /proc, cold starts
load.py        Entra's new-user requests from worker threads (stdlib only: the same client for both servers)
report.py      the plain-text report, ratios next to the goals
storage.py     the storage client's share of our CPU, measured in a fresh process
scim2_host.py  scim2-server's application behind an HTTP front like ours (runs in scim2-server's own venv)
"""
