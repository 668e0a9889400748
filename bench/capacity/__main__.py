"""`python -m bench.capacity`: bench/capacity/report.py, as if run itself."""

import runpy

runpy.run_module("bench.capacity.report", run_name="__main__", alter_sys=True)
