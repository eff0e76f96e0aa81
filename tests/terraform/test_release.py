"""`make release`: the archive is a module source another repository uses as it is, with
only the required inputs, no artifacts_dir and no Python, from an HTTP URL or vendored."""

from __future__ import annotations

import functools
import http.server
import json
import tarfile
import threading
from typing import TYPE_CHECKING, Any

import pytest

from tools import release
from tools.manifest import read_manifest
from tools.terraform import check, plan

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

VERSION = "9.9.9"

CONSUMER_ROOT = """\
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.69.1, < 7.0.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

# Only the required inputs: no artifacts_dir, no build.
module "websocket_api" {
  source = "SOURCE"

  project = "acme"
  env     = "demo"
  jwt = {
    algorithm = "RS256"
    jwks_url  = "https://auth.example.com/.well-known/jwks.json"
    issuer    = "https://auth.example.com/"
    audience  = "acme"
  }
}

output "websocket_url" {
  value = module.websocket_api.websocket_url
}
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifacts = plan.write_artifacts(tmp_path_factory.mktemp("build"))
    return release.make_release(artifacts, tmp_path_factory.mktemp("dist"), VERSION, commit="c0")


def _tf(cwd: Path, *args: str) -> check.Result:
    result = check.run([*args, "-no-color"], cwd, " ".join(args))
    assert result.returncode == 0, result.output
    return result


def _plan_consumer(root: Path, source: str) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "main.tf").write_text(CONSUMER_ROOT.replace("SOURCE", source))
    _tf(root, "init", "-input=false")
    _tf(root, "validate")
    _tf(root, "plan", "-input=false", "-out=consumer.tfplan")
    shown: dict[str, Any] = json.loads(_tf(root, "show", "-json", "consumer.tfplan").stdout)
    return shown


def _functions(shown: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        rc["index"]: rc["change"]["after"]
        for rc in shown["resource_changes"]
        if rc["type"] == "aws_lambda_function"
    }


def test_the_archive_is_the_module_plus_its_artifacts(archive: Path) -> None:
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        meta = tar.extractfile("release.json")
        assert meta is not None
        info = json.loads(meta.read())
    assert archive.name == f"websocket_api-{VERSION}-python3.13-arm64.tar.gz"
    assert {"main.tf", "variables.tf", "manifest.json", "README.md", "release.json"} <= names
    assert {"artifacts/manifest.json", "artifacts/layer.zip"} <= names
    assert "artifacts/functions/publish.zip" in names
    assert "modules/api_gateway_account/main.tf" in names
    assert not [n for n in names if n.startswith(("tests", "examples")) or "/." in n]
    assert info["version"] == VERSION and info["commit"] == "c0"
    assert (info["runtime"], info["architecture"], info["xray_sdk"]) == (
        "python3.13",
        "arm64",
        False,
    )


def test_the_archive_is_reproducible(archive: Path, tmp_path: Path) -> None:
    artifacts = plan.write_artifacts(tmp_path / "build")
    again = release.make_release(artifacts, tmp_path / "dist", VERSION, commit="c0")
    assert again.read_bytes() == archive.read_bytes()


def test_a_release_needs_a_build(tmp_path: Path) -> None:
    with pytest.raises(release.ReleaseError, match="make build"):
        release.make_release(tmp_path, tmp_path / "dist", VERSION)


def test_a_vendored_release_plans_with_only_the_required_inputs(
    archive: Path, tmp_path: Path
) -> None:
    vendor = tmp_path / "consumer" / "vendor" / "websocket_api"
    vendor.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(vendor, filter="data")
    shown = _plan_consumer(tmp_path / "consumer", "./vendor/websocket_api")
    built = json.loads((vendor / "artifacts" / "manifest.json").read_text())
    functions = _functions(shown)
    assert sorted(functions) == sorted(built["functions"])
    for name, after in functions.items():
        assert after["filename"] == f"vendor/websocket_api/artifacts/functions/{name}.zip"
        assert after["source_code_hash"] == built["functions"][name]["sha256_base64"]


@pytest.fixture
def http_server(archive: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The dist directory over HTTP on localhost, as a release bucket or page would be."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(archive.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


ACCOUNT_MODULE = """
module "api_gateway_account" {
  source = "SOURCE//modules/api_gateway_account"
}
"""


def test_a_release_url_is_a_module_source(archive: Path, http_server: str, tmp_path: Path) -> None:
    """Both modules of the README's usage, from the archive's URL (the account module as a
    sub-directory of it: in a real setup it lives in a root of its own)."""
    url = f"{http_server}/{archive.name}"
    root = tmp_path / "consumer"
    root.mkdir()
    (root / "account.tf").write_text(ACCOUNT_MODULE.replace("SOURCE", url))
    shown = _plan_consumer(root, url)
    account = [rc for rc in shown["resource_changes"] if rc["type"] == "aws_api_gateway_account"]
    assert [rc["module_address"] for rc in account] == ["module.api_gateway_account"]
    functions = _functions(shown)
    assert sorted(functions) == sorted(read_manifest()["functions"])
    for after in functions.values():
        assert after["filename"].startswith(".terraform/modules/websocket_api/artifacts/")


def test_the_release_command_says_how_to_consume_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    artifacts = plan.write_artifacts(tmp_path / "build")
    argv = ["--artifacts", str(artifacts), "--out", str(tmp_path / "dist"), "--version", "1.2.3"]
    assert release.main(argv) == 0
    out = capsys.readouterr().out
    assert "websocket_api-1.2.3-python3.13-arm64.tar.gz" in out
    assert "without artifacts_dir" in out
    assert release.main([*argv[:1], str(tmp_path / "nothing"), *argv[2:]]) == 2
