"""Offline checks of the Bicep templates and the deployment package, run by `make check-infra` (and CI).

1. Every .bicep file under infra/ must parse with pycep-parser (its own venv: checkov pins an older one).
2. The project's own rules (infra/rules.py) must find nothing in the parsed templates: no site property
   or app setting Flex Consumption rejects, `location` restricted to Flex regions, only known built-in
   roles, a Key Vault that can be recovered, a storage SKU every allowed region offers, every role the
   README's `scim-admin` steps need granted to the deployer (infra/operator_access.py); and .funcignore
   must leave out all that .gitignore ignores.
3. checkov's Bicep checks must report zero failed checks and zero parsing errors. checkov exits 0 on
   files it cannot parse, so its JSON summary is read instead of trusting the exit code.
Skips live inline in the templates (`// checkov:skip=ID: reason`), each with its reason.

Usage, from the repository root: python -m infra.check_infra PYCEP_PYTHON CHECKOV
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from infra import operator_access, rules

INFRA = Path(__file__).resolve().parent
ROOT = INFRA.parent
# Runs in pycep's venv: parses each file named on the command line, prints {path: {"template"|"error": ...}}.
PARSE = """
import json, sys
from pathlib import Path
from pycep import BicepParser
parser, out = BicepParser(), {}
for name in sys.argv[1:]:
    try:
        out[name] = {"template": parser.parse(file_path=Path(name))}
    except Exception as error:
        lines = str(error).strip().splitlines()
        out[name] = {"error": f"{type(error).__name__}: {lines[0] if lines else ''}"}
print(json.dumps(out, default=str))
"""


def parse_bicep(pycep_python: str, paths: list[Path]) -> dict[str, dict[str, Any]]:
    """pycep's parse of each file, keyed by the path as given: {"template": ...} or {"error": ...}."""
    result = subprocess.run([pycep_python, "-c", PARSE, *map(str, paths)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        return {str(path): {"error": f"pycep did not run: {message}"} for path in paths}
    parsed: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return parsed


def parse_all(pycep_python: str) -> tuple[dict[str, Any], list[str]]:
    paths = sorted(INFRA.rglob("*.bicep"))
    parsed = parse_bicep(pycep_python, paths)
    templates, failures = {}, []
    for path in paths:
        relative = path.relative_to(ROOT).as_posix()
        outcome = parsed.get(str(path), {"error": "not parsed"})
        print(f"pycep  {'ok' if 'template' in outcome else 'PARSE ERROR':<11} {relative}")
        if "template" in outcome:
            templates[relative] = outcome["template"]
        else:
            failures.append(f"{relative}: {outcome['error']}")
    return templates, failures


def run_rules(templates: dict[str, Any]) -> list[str]:
    failures = []
    for rule, found in rules.check_templates(templates).items():
        print(f"rule   {'ok' if not found else 'FAILED':<11} {rule}")
        failures += found
    gaps = rules.funcignore_gaps((ROOT / ".gitignore").read_text(), (ROOT / ".funcignore").read_text())
    print(f"rule   {'ok' if not gaps else 'FAILED':<11} funcignore_covers_gitignore")
    unmapped = [
        f"README.md: `scim-admin {command}` is an operator step whose Azure data actions infra/operator_access.py "
        "does not list, so operator_roles cannot check the deployer may run it"
        for command in operator_access.unmapped_commands(
            operator_access.readme_commands((ROOT / "README.md").read_text())
        )
    ]
    print(f"rule   {'ok' if not unmapped else 'FAILED':<11} readme_operator_steps_mapped")
    return failures + gaps + unmapped


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
    templates, failures = parse_all(pycep_python)
    failures += run_rules(templates) + run_checkov(checkov)
    for failure in failures:
        print(f"FAIL {failure}")
    print("infra checks passed" if not failures else f"{len(failures)} infra check failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
