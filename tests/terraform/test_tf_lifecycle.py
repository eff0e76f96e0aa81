"""Apply-time behaviour the offline harness can exercise: which root owns API Gateway's
account-level CloudWatch role, what a destroy may do to it, what an upgrade does to a
deployment that used to own it, and the provider version every root is validated with.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from tools.manifest import ROOT
from tools.terraform import check, plan, provider, toolchain, values

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import DevPlan

ACCOUNT_TYPE = "aws_api_gateway_account"
SCHEMA = provider.load_schema()


def _tf(cwd: Path, *args: str) -> check.Result:
    return check.run([*args, "-no-color"], cwd, " ".join(args))


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> plan.PlanRun:
    try:
        return plan.plan_root(tmp_path_factory.mktemp("tf-bootstrap"), "terraform/bootstrap")
    except plan.TerraformError as exc:
        pytest.fail(str(exc))


def test_only_the_bootstrap_root_registers_the_account_role(
    bootstrap: plan.PlanRun, dev_plan: DevPlan
) -> None:
    account = [rc for rc in bootstrap.plan["resource_changes"] if rc["type"] == ACCOUNT_TYPE]
    assert [rc["change"]["actions"] for rc in account] == [["create"]]
    assert bootstrap.state is not None
    roles = [
        r
        for r in bootstrap.state["values"]["root_module"]["child_modules"][0]["resources"]
        if r["type"] == "aws_iam_role"
    ]
    assert [r["values"]["name"] for r in roles] == ["apigateway-cloudwatch-logs-eu-west-1"]
    assert not [r for r in dev_plan.plan["resource_changes"] if r["type"] == ACCOUNT_TYPE]


def test_destroying_the_bootstrap_root_is_refused(bootstrap: plan.PlanRun) -> None:
    """A destroy would reset the account's logging role for every API of the region."""
    result = _tf(bootstrap.root, "plan", "-destroy", "-input=false")
    assert result.returncode != 0, result.output
    assert "Instance cannot be destroyed" in result.output
    assert "aws_api_gateway_account.this" in result.output


def _instance(type_name: str, attributes: dict[str, Any], index: int | None = 0) -> Any:
    block = SCHEMA["resource_schemas"][type_name]["block"]
    full = {**values.null_object(block), **attributes}
    instance: dict[str, Any] = {"schema_version": 0, "attributes": full}
    if index is not None:
        instance["index_key"] = index
    return instance


def _state_with_the_old_account_resources() -> dict[str, Any]:
    """State of terraform/dev as the module left it with manage_api_gateway_account = true."""
    role_arn = "arn:aws:iam::123456789012:role/wsplatform-dev-apigw-cloudwatch"
    old = {
        ACCOUNT_TYPE: ("this", {"id": "api-gateway-account", "cloudwatch_role_arn": role_arn}),
        "aws_iam_role": (
            "api_gateway_cloudwatch",
            {"id": "wsplatform-dev-apigw-cloudwatch", "name": "wsplatform-dev-apigw-cloudwatch"},
        ),
        "aws_iam_role_policy_attachment": (
            "api_gateway_cloudwatch",
            {"id": "attachment", "role": "wsplatform-dev-apigw-cloudwatch"},
        ),
    }
    return {
        "version": 4,
        "terraform_version": "1.15.5",
        "serial": 1,
        "lineage": "00000000-0000-0000-0000-000000000000",
        "outputs": {},
        "resources": [
            {
                "module": "module.websocket_api",
                "mode": "managed",
                "type": type_name,
                "name": name,
                "provider": f'provider["{provider.PROVIDER_ADDR}"]',
                "instances": [_instance(type_name, attributes)],
            }
            for type_name, (name, attributes) in old.items()
        ],
    }


def test_an_upgraded_deployment_forgets_the_account_role_instead_of_destroying_it(
    tmp_path: Path,
) -> None:
    """removed { destroy = false }: the registration survives the upgrade of a root that
    used manage_api_gateway_account = true (and its later destroy)."""
    check.copy_tree(tmp_path)
    artifacts = plan.write_artifacts(tmp_path / "build")
    root = tmp_path / "terraform" / "dev"
    (root / "offline_backend_override.tf").write_text(plan.LOCAL_BACKEND_OVERRIDE)
    (root / "terraform.tfstate").write_text(json.dumps(_state_with_the_old_account_resources()))
    assert _tf(root, "init", "-input=false").returncode == 0
    result = _tf(
        root, "plan", "-input=false", f"-var=artifacts_dir={artifacts}", "-out=upgrade.tfplan"
    )
    assert result.returncode == 0, result.output
    shown = json.loads(_tf(root, "show", "-json", "upgrade.tfplan").stdout)
    old = {
        rc["address"]: rc["change"]["actions"]
        for rc in shown["resource_changes"]
        if rc["type"] in (ACCOUNT_TYPE, "aws_iam_role_policy_attachment")
        or rc["address"].endswith("aws_iam_role.api_gateway_cloudwatch[0]")
    }
    assert old == {
        "module.websocket_api.aws_api_gateway_account.this[0]": ["forget"],
        "module.websocket_api.aws_iam_role.api_gateway_cloudwatch[0]": ["forget"],
        "module.websocket_api.aws_iam_role_policy_attachment.api_gateway_cloudwatch[0]": ["forget"],
    }


_AWS_VERSION = re.compile(
    r'aws\s*=\s*\{[^}]*source\s*=\s*"hashicorp/aws"[^}]*version\s*=\s*"([^"]+)"', re.S
)


def test_every_root_and_module_requires_the_provider_version_it_is_validated_with() -> None:
    """The stand-in serves hashicorp/aws 6.69.1's schema; an older 6.x (which rejects
    python3.14, a runtime the module accepts) must not satisfy any constraint."""
    files = sorted(p for p in (ROOT / "modules").rglob("versions.tf"))
    files += sorted((ROOT / "terraform").glob("*/versions.tf"))
    assert len(files) >= 6, files
    for path in files:
        constraints = _AWS_VERSION.findall(path.read_text())
        assert len(constraints) == 1, path
        floor = [c.strip() for c in constraints[0].split(",") if c.strip().startswith(">=")]
        assert floor == [f">= {toolchain.PROVIDER_VERSION}"], (path, constraints)
