"""The capacity model of docs/performance.md ("How many tenants one deployment serves"): how many tenants one
deployment carries, and which Azure limit gives first.

model.py   Azure's limits, our storage calls and CPU per Entra request, a tenant's workload; the paper form
sim.py     the same workload replayed request by request through token buckets
report.py  `make capacity` / `python -m bench capacity`: both side by side (stdlib only, seeded, seconds)

It stays a package of bench/ (not a folder of docs/) because it is code: tests/unit/test_capacity.py checks its
arithmetic, and its inputs are what bench/entra_trips.py measures. docs/performance.md carries its figures and
names each source.
"""
