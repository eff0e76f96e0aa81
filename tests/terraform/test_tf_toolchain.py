"""The offline toolchain itself: schema rebuild, wire values, data sources, the stand-in
provider end to end through real Terraform (init, validate, plan, apply, test)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import textwrap
from typing import TYPE_CHECKING

import pytest

from tools.manifest import ROOT, read_manifest
from tools.terraform import (
    check,
    datasources,
    gen_schema,
    plan,
    provider,
    scan,
    toolchain,
    values,
)

if TYPE_CHECKING:
    from pathlib import Path

SCHEMA = provider.load_schema()

# A cut-down module in the shape cdktn-provider-aws generates.
BINDING_JS = textwrap.dedent(
    """
    function exampleThingRuleToHclTerraform(struct) {
        const attrs = {
            kind: {
                value: cdktn.stringToHclTerraform(struct.kind),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
        };
    }
    class ExampleThingRuleOutputReference extends cdktn.ComplexObject {
        // kind - computed: false, optional: false, required: true
        get kind() {
            return this.getStringAttribute('kind');
        }
    }
    function exampleThingTimeoutsToHclTerraform(struct) {
        const attrs = {
            create: {
                value: cdktn.stringToHclTerraform(struct.create),
                isBlock: false,
                type: "simple",
                storageClassType: "string",
            },
        };
    }
    class ExampleThingTimeoutsOutputReference extends cdktn.ComplexObject {
        // create - computed: false, optional: true, required: false
        get create() {
            return this.getStringAttribute('create');
        }
    }
    class ExampleThing extends cdktn.TerraformResource {
        static tfResourceType = "aws_example_thing";
        // arn - computed: true, optional: false, required: false
        get arn() {
            return this.getStringAttribute('arn');
        }
        // name - computed: false, optional: false, required: true
        get name() {
            return this.getStringAttribute('name');
        }
        // ids - computed: true, optional: true, required: false
        get ids() {
            return cdktn.Fn.tolist(this.getListAttribute('ids'));
        }
        // rule - computed: false, optional: true, required: false
        _rule = new ExampleThingRuleOutputReference(this, "rule");
        // timeouts - computed: false, optional: true, required: false
        _timeouts = new ExampleThingTimeoutsOutputReference(this, "timeouts");
        synthesizeHclAttributes() {
            const attrs = {
                name: {
                    value: cdktn.stringToHclTerraform(this._name),
                    isBlock: false,
                    type: "simple",
                    storageClassType: "string",
                },
                ids: {
                    value: cdktn.listMapperHcl(cdktn.stringToHclTerraform, false)(this._ids),
                    isBlock: false,
                    type: "set",
                    storageClassType: "stringList",
                },
                rule: {
                    value: exampleThingRuleToHclTerraform(this._rule.internalValue),
                    isBlock: true,
                    type: "list",
                    storageClassType: "ExampleThingRuleList",
                },
                timeouts: {
                    value: exampleThingTimeoutsToHclTerraform(this._timeouts.internalValue),
                    isBlock: true,
                    type: "struct",
                    storageClassType: "ExampleThingTimeouts",
                },
            };
        }
    }
    """
)


def test_schema_rebuilt_from_bindings() -> None:
    schema = gen_schema.schema_for(BINDING_JS)
    assert schema == {
        "version": 0,
        "block": {
            "attributes": {
                "arn": {"type": "string", "computed": True},
                "ids": {"type": ["set", "string"], "optional": True, "computed": True},
                "name": {"type": "string", "required": True},
            },
            "block_types": {
                "rule": {
                    "nesting_mode": "list",
                    "max_items": 1,
                    "block": {"attributes": {"kind": {"type": "string", "required": True}}},
                },
                "timeouts": {
                    "nesting_mode": "single",
                    "block": {"attributes": {"create": {"type": "string", "optional": True}}},
                },
            },
        },
    }


def test_committed_schema_covers_every_type_the_terraform_code_uses() -> None:
    used = gen_schema.used_types(check.ROOT / "modules", check.ROOT / "terraform")
    assert used, "no aws_* types found under modules/"
    have = set(gen_schema.existing_names(provider.SCHEMA_FILE))
    missing = sorted(set(used) - have)
    assert not missing, f"regenerate the schema (make tf-schema): {missing}"


def test_committed_schema_has_the_real_provider_shapes() -> None:
    table = SCHEMA["resource_schemas"]["aws_dynamodb_table"]["block"]
    assert table["attributes"]["name"] == {"type": "string", "required": True}
    assert table["block_types"]["global_secondary_index"]["nesting_mode"] == "set"
    assert table["block_types"]["ttl"]["max_items"] == 1
    assert SCHEMA["provider"]["block"]["block_types"]["default_tags"]["max_items"] == 1


def test_unknowns_survive_the_wire_format() -> None:
    value = {"a": values.UNKNOWN, "b": [1, 2.5, "x"], "c": None, "d": {"k": True}}
    assert values.decode(values.encode(value)) == value
    # cty's unknown is fixext1 type 0: d4 00 00.
    assert values.encode(values.UNKNOWN) == b"\xd4\x00\x00"


def test_plan_marks_only_unset_computed_attributes_unknown() -> None:
    block = SCHEMA["resource_schemas"]["aws_sqs_queue"]["block"]
    proposed = values.null_object(block) | {"name": "q", "visibility_timeout_seconds": 60}
    planned = values.unknown_computed(block, proposed)
    assert planned["name"] == "q"
    assert planned["visibility_timeout_seconds"] == 60
    assert planned["arn"] is values.UNKNOWN
    assert planned["delay_seconds"] is None  # optional, not computed: stays null


def test_apply_fills_unknowns_and_keeps_known_values() -> None:
    block = SCHEMA["resource_schemas"]["aws_sqs_queue"]["block"]
    proposed = values.null_object(block) | {"name": "q"}
    planned = values.unknown_computed(block, proposed)
    applied = values.Placeholders("aws_sqs_queue", "eu-west-1", "123456789012", "q").resolve(
        block, planned
    )
    assert values.is_known(applied)
    assert applied["name"] == "q"
    assert applied["arn"] == "arn:aws:sqs:eu-west-1:123456789012:q"
    assert applied["url"] == "https://sqs.eu-west-1.amazonaws.com/123456789012/q"


def test_policy_document_renders_statements() -> None:
    block = SCHEMA["data_source_schemas"]["aws_iam_policy_document"]["block"]
    cfg = values.null_object(block) | {
        "statement": [
            {
                "sid": "Send",
                "effect": None,
                "actions": ["sqs:SendMessage"],
                "resources": ["arn:aws:sqs:eu-west-1:123456789012:q"],
                "not_actions": None,
                "not_resources": None,
                "principals": [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}],
                "not_principals": [],
                "condition": [
                    {"test": "StringEquals", "variable": "aws:SourceAccount", "values": ["1"]}
                ],
            }
        ]
    }
    state = datasources.read("aws_iam_policy_document", block, cfg, "eu-west-1")
    assert json.loads(state["json"]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Send",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "arn:aws:sqs:eu-west-1:123456789012:q",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:SourceAccount": "1"}},
            }
        ],
    }
    assert json.loads(state["minified_json"]) == json.loads(state["json"])


def test_schema_messages_keep_nesting_and_limits() -> None:
    msg = provider.schema_proto(SCHEMA["resource_schemas"]["aws_dynamodb_table"])
    blocks = {b.type_name: b for b in msg.block.block_types}
    assert blocks["ttl"].nesting == provider.pb.Schema.NestedBlock.LIST
    assert blocks["ttl"].max_items == 1
    assert blocks["timeouts"].nesting == provider.pb.Schema.NestedBlock.SINGLE
    attrs = {a.name: a for a in msg.block.attributes}
    assert json.loads(attrs["tags"].type) == ["map", "string"]
    assert attrs["name"].required


# ---------------------------------------------------------------------------
# End to end through real Terraform and the stand-in plugin
# ---------------------------------------------------------------------------

SMOKE_TF = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.0" }
  }
}

provider "aws" {
  region = "eu-west-1"
  default_tags {
    tags = { project = "smoke" }
  }
}

data "aws_caller_identity" "me" {}
data "aws_region" "here" {}

resource "aws_sqs_queue" "q" {
  name                       = "smoke-${data.aws_caller_identity.me.account_id}"
  visibility_timeout_seconds = 60
}

data "aws_iam_policy_document" "send" {
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.q.arn]
  }
}

output "url" { value = aws_sqs_queue.q.url }
output "region" { value = data.aws_region.here.region }
output "policy" { value = data.aws_iam_policy_document.send.json }
output "tags_all" { value = aws_sqs_queue.q.tags_all }
"""

SMOKE_TEST = """
mock_provider "aws" {}

run "queue_is_planned" {
  command = plan
  assert {
    condition     = aws_sqs_queue.q.visibility_timeout_seconds == 60
    error_message = "visibility timeout"
  }
}
"""


def _tf(cwd: Path, *args: str) -> check.Result:
    return check.run([*args, "-no-color"], cwd, " ".join(args))


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("smoke")
    (root / "main.tf").write_text(SMOKE_TF)
    (root / "tests").mkdir()
    (root / "tests" / "smoke.tftest.hcl").write_text(SMOKE_TEST)
    init = _tf(root, "init", "-backend=false")
    assert init.returncode == 0, init.output
    return root


def test_stand_in_validates_plans_and_applies(smoke_dir: Path) -> None:
    validate = _tf(smoke_dir, "validate")
    assert validate.returncode == 0, validate.output
    planned = _tf(smoke_dir, "plan", "-out=smoke.tfplan")
    assert planned.returncode == 0, planned.output
    assert re.search(r"url\s+= \(known after apply\)", planned.output), planned.output
    apply = _tf(smoke_dir, "apply", "smoke.tfplan")
    assert apply.returncode == 0, apply.output
    out = check.run(["output", "-json"], smoke_dir, "output")
    outputs = {k: v["value"] for k, v in json.loads(out.stdout).items()}
    assert outputs["url"] == "https://sqs.eu-west-1.amazonaws.com/123456789012/smoke-123456789012"
    assert outputs["region"] == "eu-west-1"
    assert outputs["tags_all"] == {"project": "smoke"}
    statement = json.loads(outputs["policy"])["Statement"][0]
    assert statement["Resource"] == "arn:aws:sqs:eu-west-1:123456789012:smoke-123456789012"


def test_terraform_test_runs_with_a_mock_provider(smoke_dir: Path) -> None:
    result = _tf(smoke_dir, "test")
    assert result.returncode == 0, result.output
    assert "1 passed, 0 failed" in result.output


BAD_RESOURCES = {
    "Unsupported argument": 'resource "aws_sqs_queue" "a" {\n  no_such_argument = 1\n}\n',
    'The argument "name" is required': (
        'resource "aws_dynamodb_table" "b" {\n  hash_key = "PK"\n}\n'
    ),
    "Too many ttl blocks": (
        'resource "aws_dynamodb_table" "c" {\n  name = "t"\n'
        "  ttl {\n    enabled = true\n  }\n  ttl {\n    enabled = false\n  }\n}\n"
    ),
    "Incorrect attribute value type": (
        'resource "aws_sqs_queue" "d" {\n  delay_seconds = ["soon"]\n}\n'
    ),
}


def test_the_real_schema_rejects_bad_configuration(smoke_dir: Path, tmp_path: Path) -> None:
    """Names, required arguments, block counts and types are Terraform's own checks."""
    (tmp_path / "main.tf").write_text(SMOKE_TF + "".join(BAD_RESOURCES.values()))
    init = _tf(tmp_path, "init", "-backend=false")
    assert init.returncode == 0, init.output
    validate = _tf(tmp_path, "validate")
    assert validate.returncode != 0
    for message in BAD_RESOURCES:
        assert message in validate.output, validate.output


def test_checkov_skips_all_carry_reasons(tmp_path: Path) -> None:
    skips = scan.load_skips()
    assert skips, "the committed skip list parses"
    bad = tmp_path / "skips.json"
    bad.write_text(json.dumps({"CKV_AWS_1": "because"}))
    with pytest.raises(ValueError, match="CKV_AWS_1"):
        scan.load_skips(bad)


def test_placeholder_artifacts_match_the_build_contract(tmp_path: Path) -> None:
    out = plan.write_artifacts(tmp_path, "python3.12", "x86_64")
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["runtime"], manifest["architecture"]) == ("python3.12", "x86_64")
    entries = [manifest["layer"], *manifest["functions"].values()]
    functions = read_manifest()["functions"]
    assert set(manifest["functions"]) == set(functions)
    for entry in entries:
        data = (out / entry["file"]).read_bytes()
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert entry["sha256_base64"] == digest


def test_user_terraform_settings_do_not_leak_into_the_checks(tmp_path: Path) -> None:
    user = {
        "PATH": "/usr/bin",
        "TF_PLUGIN_CACHE_DIR": str(tmp_path / "cache"),
        "TF_VAR_region": "us-west-2",
        "TF_CLI_ARGS_plan": "-var-file=mine.tfvars",
        "TF_DATA_DIR": str(tmp_path / "data"),
        "TF_CLI_CONFIG_FILE": str(tmp_path / "mine.tfrc"),
    }
    env = toolchain.environment(user)
    assert not {"TF_PLUGIN_CACHE_DIR", "TF_VAR_region", "TF_CLI_ARGS_plan", "TF_DATA_DIR"} & set(
        env
    )
    assert env["TF_CLI_CONFIG_FILE"] == str(toolchain.ensure())
    assert env["PATH"] == "/usr/bin"
    assert (env["CHECKPOINT_DISABLE"], env["TF_IN_AUTOMATION"], env["TF_INPUT"]) == ("1", "1", "0")


def test_mirror_and_cli_config_point_at_the_stand_in() -> None:
    config = toolchain.ensure().read_text()
    plugin = (
        toolchain.build_dir()
        / "mirror/registry.terraform.io/hashicorp/aws"
        / toolchain.PROVIDER_VERSION
        / toolchain.platform_dir()
        / f"terraform-provider-aws_v{toolchain.PROVIDER_VERSION}"
    )
    assert plugin.stat().st_mode & 0o111, "plugin must be executable"
    assert "tools.terraform.provider" in plugin.read_text()
    assert f'path    = "{toolchain.build_dir() / "mirror"}"' in config
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in config


def test_checkov_gets_the_plan_at_a_path_it_cannot_read_as_a_secret(tmp_path: Path) -> None:
    # The path that failed CKV_AWS_45 for every function: a 40-character run before "-plan".
    assert scan.AWS_SECRET_KEY.search("/tmp/abcdefghijklm/terraform/dev/offline-plan.json")
    source = tmp_path / "offline-plan.json"
    source.write_text('{"format_version": "1.2"}')
    with scan.plan_for_checkov(source) as copy:
        assert copy.read_text() == source.read_text()
        assert not scan.AWS_SECRET_KEY.search(str(copy))
    assert not copy.parent.exists(), "the copy is removed after the scan"


def test_checkov_plan_copy_refuses_a_temp_dir_that_would_look_like_a_secret(
    tmp_path: Path,
) -> None:
    base = str(tmp_path.resolve())
    tail = len(re.findall(r"[A-Za-z0-9/+=]*$", base)[0])
    # <base>/<pad>/checkov-XXXXXXXX/plan.json: the run up to "checkov-" is exactly 40 long.
    pad = 40 - tail - len("/") - len("/checkov")
    assert pad > 0, base
    tmp_root = tmp_path / ("p" * pad)
    tmp_root.mkdir()
    source = tmp_path / "plan.json"
    source.write_text("{}")
    with pytest.raises(ValueError, match="TMPDIR"), scan.plan_for_checkov(source, tmp_root):
        pass
    assert list(tmp_root.iterdir()) == [], "nothing is left behind"


def test_the_checks_plan_with_the_committed_example_not_a_developers_tfvars(
    tmp_path: Path,
) -> None:
    base = tmp_path / "repo"
    root = base / "terraform" / "dev"
    root.mkdir(parents=True)
    (root / "main.tf").write_text("# root\n")
    (root / "terraform.tfvars.example").write_text('region = "eu-west-1"\n')
    (root / "terraform.tfvars").write_text('region = "my-real-region"\n')
    work = check.copy_tree(tmp_path / "work", base)
    copied = work / "terraform" / "dev"
    assert (copied / "terraform.tfvars").read_text() == 'region = "eu-west-1"\n'
    assert (copied / "main.tf").exists()


def test_the_environment_roots_ship_an_example_and_ignore_the_real_tfvars() -> None:
    for env in check.ENV_ROOTS:
        assert (ROOT / env / "terraform.tfvars.example").is_file()
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", f"{env}/terraform.tfvars"], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"{env}/terraform.tfvars is not ignored by git"
