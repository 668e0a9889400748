"""The benchmarks as one harness of named scenarios (bench/README.md says which guards what).

    python -m bench                          # list the scenarios: what each guards, its figure, how long it runs
    python -m bench groups --sizes 10,1000   # one scenario; what follows its name are its own options
    python -m bench default                  # a set: `make bench` runs this one
    python -m bench --quick groups           # a smoke run on the scenario's small settings (where it has them)

Each scenario runs as `python -m <its module>` in a process of its own, as it always has: a fresh Azurite each,
and nothing measured shares a process with another scenario.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

from bench.scenarios import BY_NAME, SCENARIOS, SETS, Scenario


def listing() -> str:
    lines = ["Scenarios (python -m bench NAME [its options]; --quick for a smoke run):", ""]
    for s in SCENARIOS:
        quick = {None: "none (runs in full)", (): "as it is"}.get(s.quick, " ".join(s.quick or ()))
        lines += textwrap.wrap(s.guards, 104, initial_indent=f"  {s.name:<12} ", subsequent_indent=" " * 15)
        for label, text in (("figure", s.figure), ("runs", s.duration), ("quick", quick)):
            lines += textwrap.wrap(text, 104, initial_indent=f"{'':15}{label}: ", subsequent_indent=" " * 23)
    lines += ["", *(f"  {name:<12} the set {', '.join(names)}" for name, names in SETS.items())]
    return "\n".join(lines)


def run(scenario: Scenario, args: list[str], quick: bool) -> int:
    if quick:
        if scenario.quick is None:
            print(f"bench: {scenario.name} has no quick form (it runs {scenario.duration}); skipped", file=sys.stderr)
            return 0
        args = [*scenario.quick, *args]
    command = [sys.executable, "-m", scenario.module, *args]
    print(f"== {scenario.name}: {' '.join(command[1:])}", flush=True)
    return subprocess.run(command, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the scenario's small settings: a smoke run")
    parser.add_argument("scenario", nargs="?", help=f"one of: {', '.join([*BY_NAME, *SETS])}")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the scenario's own options")
    options = parser.parse_args(argv)
    if options.scenario is None:
        print(listing())
        return 0
    if options.scenario in SETS:
        if options.args:
            parser.error(f"a set takes no options: run its scenarios one by one ({', '.join(SETS[options.scenario])})")
        for name in SETS[options.scenario]:
            code = run(BY_NAME[name], [], options.quick)
            if code:
                return code
        return 0
    if options.scenario not in BY_NAME:
        parser.error(f"no scenario {options.scenario!r}; `python -m bench` lists them")
    return run(BY_NAME[options.scenario], options.args, options.quick)


if __name__ == "__main__":
    sys.exit(main())
