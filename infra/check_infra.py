"""Offline checks of the Bicep templates, run by `make check-infra` (and CI).

1. Every .bicep file under infra/ must parse with pycep-parser (its own venv: checkov pins an older one).
2. checkov's Bicep checks must report zero failed checks and zero parsing errors. checkov exits 0 on
   files it cannot parse, so its JSON summary is read instead of trusting the exit code.
Skips live inline in the templates (`// checkov:skip=ID: reason`), each with its reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

INFRA = Path(__file__).resolve().parent
PARSE = (
    "import sys; from pathlib import Path; from pycep import BicepParser\n"
    "BicepParser().parse(file_path=Path(sys.argv[1]))\n"
)


def parse_all(pycep_python: str) -> list[str]:
    failures = []
    for path in sorted(INFRA.rglob("*.bicep")):
        result = subprocess.run([pycep_python, "-c", PARSE, str(path)], capture_output=True, text=True, check=False)
        status = "ok" if result.returncode == 0 else "PARSE ERROR"
        print(f"pycep  {status:<11} {path.relative_to(INFRA.parent)}")
        if result.returncode != 0:
            failures.append(f"{path}: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'failed'}")
    return failures


def run_checkov(checkov: str) -> list[str]:
    result = subprocess.run(
        [checkov, "--framework", "bicep", "--skip-download", "--quiet", "-d", str(INFRA), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        parsed = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [f"checkov printed no JSON (exit {result.returncode}): {result.stderr.strip()[-500:]}"]
    reports = parsed if isinstance(parsed, list) else [parsed]
    failures: list[str] = []
    for report in reports:
        summary = report.get("summary", {})
        results = report.get("results", {})
        print(
            f"checkov {report.get('check_type')}: passed {summary.get('passed')}, failed {summary.get('failed')}, "
            f"skipped {summary.get('skipped')}, parsing errors {summary.get('parsing_errors')}"
        )
        for check in results.get("failed_checks", []):
            failures.append(f"{check['check_id']} {check['check_name']} ({check['file_path']} {check['resource']})")
        failures += [f"checkov could not parse {path}" for path in results.get("parsing_errors", [])]
        if summary.get("parsing_errors") and not results.get("parsing_errors"):
            failures.append(f"checkov reported {summary['parsing_errors']} parsing errors")
    if not reports or not any(report.get("summary", {}).get("resource_count") for report in reports):
        failures.append("checkov scanned no Bicep resources")
    return failures


def main() -> int:
    pycep_python, checkov = sys.argv[1], sys.argv[2]
    failures = parse_all(pycep_python) + run_checkov(checkov)
    for failure in failures:
        print(f"FAIL {failure}")
    print("infra checks passed" if not failures else f"{len(failures)} infra check failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
