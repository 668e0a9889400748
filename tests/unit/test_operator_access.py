"""The README's Azure operator steps, walked against the roles the Bicep gives the deployer (issue #21).

Each `scim-admin` command the README tells an operator to run is mapped (infra/operator_access.py) to the data
actions it performs on each SCIM table and on the Key Vault; the real templates, parsed by pycep, must give
the deployer a role covering every one, on a scope that reaches it, and the README's table must say so. The
deployer is the operator only when it is a person, or when a pipeline is given the roles on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest

from infra import check_infra, operator_access
from infra.operator_access import OPERATOR_NEEDS, VAULT
from scim.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PYCEP_PYTHON = ROOT / ".venv-pycep" / "bin" / "python"
needs_pycep = pytest.mark.skipif(not PYCEP_PYTHON.exists(), reason="needs .venv-pycep (make check-infra builds it)")


def cli_commands(group: click.Group, prefix: str = "") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found += cli_commands(command, f"{path} ")
        else:
            found.append(path)
    return found


def test_every_cli_command_has_its_azure_data_actions_listed() -> None:
    commands = set(cli_commands(main))
    assert commands - OPERATOR_NEEDS.keys() == set(), "map these in infra/operator_access.py OPERATOR_NEEDS"
    assert OPERATOR_NEEDS.keys() - commands == set(), "OPERATOR_NEEDS lists commands the CLI does not have"


def test_the_readme_names_only_commands_that_exist_and_are_mapped() -> None:
    steps = operator_access.readme_commands(README)
    assert {"tenant create", "tenant rotate-token", "tenant show", "tenant delete", "export", "import"} <= set(steps)
    assert operator_access.unmapped_commands(steps) == []


@pytest.fixture(scope="module")
def templates() -> dict[str, Any]:
    paths = sorted((ROOT / "infra").rglob("*.bicep"))
    parsed = check_infra.parse_bicep(str(PYCEP_PYTHON), paths)
    return {p.relative_to(ROOT).as_posix(): parsed[str(p)]["template"] for p in paths}


@needs_pycep
def test_each_readme_step_finds_every_permission_it_needs_in_the_deployer_s_roles(templates: dict[str, Any]) -> None:
    grants = operator_access.deployer_grants(templates)
    assert grants, "the templates give the deployer no role at all"
    walked = []
    for command in operator_access.readme_commands(README):
        for resource, actions in OPERATOR_NEEDS[command].items():
            for action in actions:
                granted = operator_access.granting(grants, resource, action)
                assert granted, f"`scim-admin {command}` needs {action} on {resource}: no role of the deployer has it"
                walked.append((command, resource, action, granted[0].role_name, granted[0].scope))
    assert ("tenant create", "Tenants", operator_access.ADD, "Storage Table Data Contributor", "table") in walked
    assert ("tenant rotate-token", VAULT, operator_access.SET, "Key Vault Secrets Officer", "vault") in walked
    # and nothing broader than the operator's needs: no role on the data account, none on the queue
    assert {grant.scope for grant in grants} == {"table", "vault"}


@needs_pycep
def test_the_readme_table_is_what_the_templates_grant(templates: dict[str, Any]) -> None:
    assert operator_access.permission_table(templates, OPERATOR_NEEDS) in README, (
        "regenerate the README's table: python -m infra.operator_access .venv-pycep/bin/python"
    )


def evaluate(node: Any, values: dict[str, Any]) -> Any:
    """A boolean Bicep expression as pycep parses it: names, literals, &&, ||, !, !=, ==, empty()."""
    if isinstance(node, str):
        return values.get(node, node)
    if not isinstance(node, dict):
        return node
    if "function" in node:
        assert node["function"]["type"] == "empty"
        return not evaluate(node["function"]["parameters"]["item_to_test"], values)
    kind, operands = node["operator"]["type"], node["operator"]["operands"]
    if kind == "not":
        return not evaluate(operands["bool_value"], values)
    left, right = evaluate(operands["operand_1"], values), evaluate(operands["operand_2"], values)
    return {"and": lambda: left and right, "or": lambda: left or right, "not_equals": lambda: left != right}[kind]()


def azd_default(name: str) -> str:
    """The value main.parameters.json gives a parameter when its azd environment value is not set."""
    value = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"][name]["value"]
    return str(value).split("=", 1)[1].rstrip("}")


@needs_pycep
@pytest.mark.parametrize(
    ("principal_type", "for_pipelines", "principal", "granted"),
    [
        ("User", None, "0000-user", True),
        ("ServicePrincipal", None, "0000-pipeline", False),  # a CI deployer holds nothing standing by default
        ("ServicePrincipal", "true", "0000-pipeline", True),  # unless asked for
        ("User", None, "", False),
    ],
)
def test_the_operator_roles_go_to_a_user_by_default_and_to_a_pipeline_only_when_asked(
    templates: dict[str, Any], principal_type: str, for_pipelines: str | None, principal: str, granted: bool
) -> None:
    rbac = templates["infra/modules/rbac.bicep"]
    params = templates["infra/main.bicep"]["modules"]["rbac"]["config"]["params"]
    main_bicep = {
        "principalId": principal,
        "principalType": principal_type,
        "grantDeployerOperatorRoles": azd_default("grantDeployerOperatorRoles") == "true",
        "operatorRolesForServicePrincipal": (for_pipelines or azd_default("operatorRolesForServicePrincipal"))
        == "true",
    }
    assert templates["infra/main.bicep"]["parameters"]["operatorRolesForServicePrincipal"]["default"] is False
    module_values = {key: main_bicep.get(value, value) for key, value in params.items() if isinstance(value, str)}
    condition = rbac["variables"]["deployerIsOperator"]["value"]
    assert evaluate(condition, module_values) is granted
    for name in ("deployerTableContributor", "deployerSecretsOfficer"):
        body = rbac["resources"][name]["config"]
        gate = body.get("condition") or body["loop_type"]["detail"]["array_name"]["operator"]["operands"]["condition"]
        assert gate == "deployerIsOperator", name
