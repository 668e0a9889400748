"""`python -m bench.compare`: bench/compare/run.py, as if run itself."""

import runpy

runpy.run_module("bench.compare.run", run_name="__main__", alter_sys=True)
