"""`tools/build.py` end to end, offline: real pip installs from the local wheelhouse.

The build targets this machine's Python and architecture (a Lambda runtime in its own
right) so that the artifacts can be imported here, alone, the way Lambda would: function
code first, then the layer's `python/`, then what the runtime itself provides (boto3 & co).
The wheelhouse comes from `make wheelhouse` (a prerequisite of `make pytest`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path, PurePosixPath

import pytest

from tools import build
from tools.manifest import MANIFEST_PATH, ROOT, read_manifest

WHEELHOUSE = Path(os.environ.get("BUILD_WHEELHOUSE", ROOT / ".venv" / "wheelhouse"))
FUNCTION_NAMES = sorted(read_manifest()["functions"])

# What the Lambda Python runtime provides without a layer (import name of each package).
RUNTIME_PROVIDED = ["boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil", "six"]

# Environment variables handlers read at import (docs/ARCHITECTURE.md).
HANDLER_ENV = {
    "TABLE_NAME": "t",
    "JWT_ALGORITHM": "HS256",
    "JWT_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
    "JWT_ISSUER": "i",
    "JWT_AUDIENCE": "a",
    "AWS_DEFAULT_REGION": "us-east-1",
    "TRACING_ENABLED": "false",  # the module's default (xray_sdk_enabled = false)
}

FIXTURE_HANDLER = '''"""Fixture handler: needs the core package and PyJWT with its crypto."""

from __future__ import annotations

import jwt
import jwt.algorithms

import wscore

{extra}


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    return {{"core": wscore.__version__, "crypto": jwt.algorithms.has_crypto}}
'''

# Runs in a `python -I -S` subprocess: no site-packages, no PYTHONPATH, no cwd on sys.path.
IMPORT_CHECK = r"""
import importlib, importlib.util, json, pkgutil, sys

runtime_dir, layer_dir, functions = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, layer_dir)
sys.path.append(runtime_dir)
report = {"pytest_visible": importlib.util.find_spec("pytest") is not None}

import jwt, jwt.algorithms, wscore
from cryptography.hazmat.bindings import _rust

report["files"] = {"jwt": jwt.__file__, "wscore": wscore.__file__, "_rust": _rust.__file__}
report["has_crypto"] = jwt.algorithms.has_crypto
for info in pkgutil.walk_packages(wscore.__path__, "wscore."):
    importlib.import_module(info.name)

report["handlers"] = {}
for name, directory in sorted(functions.items()):
    sys.path.insert(0, directory)  # Lambda puts the function code before the layer
    module = importlib.import_module(name)
    report["handlers"][name] = {
        "file": module.__file__,
        "callable": callable(getattr(module, "handler", None)),
    }
    sys.path.remove(directory)
print(json.dumps(report))
"""


@dataclass(frozen=True)
class Built:
    sources: build.Sources
    target: build.Target
    out: Path


def this_machine() -> build.Target:
    target = build.Target.this_machine()
    if target is None:
        pytest.skip("this machine runs no Lambda Python runtime; the artifacts cannot be imported")
    return target


def wheelhouse() -> Path:
    if not (WHEELHOUSE / ".complete").is_file():
        pytest.fail(
            f"no wheelhouse at {WHEELHOUSE}: run `make wheelhouse` (needs the network once)"
        )
    return WHEELHOUSE


def run_build(sources: build.Sources, target: build.Target, out: Path) -> dict[str, object]:
    return build.build(sources, target, out, find_links=wheelhouse(), no_index=True)


def make_source_tree(root: Path) -> build.Sources:
    """The real core package and requirements, fixture handlers for the real function list.

    Also plants byte code and editor droppings that must not reach the artifacts.
    """
    lambda_src = root / "lambda_src"
    shutil.copytree(
        ROOT / "lambda_src" / "wscore",
        lambda_src / "wscore",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    handlers = lambda_src / "handlers"
    handlers.mkdir()
    for name in FUNCTION_NAMES:
        extra = "import boto3  # provided by the runtime\n" if name == "connect" else ""
        (handlers / f"{name}.py").write_text(FIXTURE_HANDLER.format(extra=extra))
    for junk_dir in (lambda_src / "wscore" / "__pycache__", handlers / "__pycache__"):
        junk_dir.mkdir()
        (junk_dir / "junk.cpython-311.pyc").write_bytes(b"\x00junk")
    (lambda_src / "wscore" / ".logs.py.swp").write_bytes(b"swap")
    manifest = root / "manifest.json"
    functions = {name: {"handler": f"{name}.handler"} for name in FUNCTION_NAMES}
    manifest.write_text(json.dumps({"functions": functions}))
    requirements = root / "lambda.txt"
    shutil.copyfile(ROOT / "requirements" / "lambda.txt", requirements)
    return build.Sources(lambda_src, manifest, requirements)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    target = this_machine()
    sources = make_source_tree(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("build")
    run_build(sources, target, out)
    return Built(sources, target, out)


def unzip(archive: Path, dest: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    return dest


def runtime_provided_dir(dest: Path) -> Path:
    """Links to this venv's copies of what the Lambda runtime ships."""
    dest.mkdir()
    for name in RUNTIME_PROVIDED:
        spec = find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} missing from the venv"
        source = Path(spec.origin)
        if spec.submodule_search_locations:
            source = source.parent
        (dest / source.name).symlink_to(source)
    return dest


def import_from_artifacts(out: Path, names: list[str], scratch: Path) -> dict[str, object]:
    """Import every handler of `out` in a fresh interpreter that sees nothing else."""
    layer = unzip(out / "layer.zip", scratch / "layer") / "python"
    functions = {
        name: str(unzip(out / "functions" / f"{name}.zip", scratch / name)) for name in names
    }
    runtime = runtime_provided_dir(scratch / "runtime")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **HANDLER_ENV}
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            IMPORT_CHECK,
            str(runtime),
            str(layer),
            json.dumps(functions),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    report["layer"] = str(layer)
    report["functions"] = functions
    return report


def assert_imports_alone(report: dict[str, object], names: list[str]) -> None:
    layer = str(report["layer"])
    assert report["pytest_visible"] is False, "the venv leaked into the import check"
    files = report["files"]
    assert isinstance(files, dict)
    for module in ("jwt", "wscore", "_rust"):
        assert str(files[module]).startswith(layer + os.sep), (module, files[module])
    assert report["has_crypto"] is True, "PyJWT cannot load cryptography from the layer"
    handlers = report["handlers"]
    functions = report["functions"]
    assert isinstance(handlers, dict) and isinstance(functions, dict)
    assert sorted(handlers) == sorted(names)
    for name in names:
        assert handlers[name]["file"] == os.path.join(functions[name], f"{name}.py")
        assert handlers[name]["callable"] is True, f"{name} has no callable handler"


def test_every_handler_imports_from_the_built_artifacts_alone(built: Built, tmp_path: Path) -> None:
    report = import_from_artifacts(built.out, FUNCTION_NAMES, tmp_path)
    assert_imports_alone(report, FUNCTION_NAMES)


def test_the_real_handlers_import_from_the_built_artifacts_alone(tmp_path: Path) -> None:
    target = this_machine()
    sources = build.Sources(
        ROOT / "lambda_src", MANIFEST_PATH, ROOT / "requirements" / "lambda.txt"
    )
    missing = [name for name in FUNCTION_NAMES if not (sources.handlers / f"{name}.py").is_file()]
    if missing:
        pytest.skip(f"handler modules not written yet: {', '.join(missing)}")
    run_build(sources, target, tmp_path / "build")
    report = import_from_artifacts(tmp_path / "build", FUNCTION_NAMES, tmp_path)
    assert_imports_alone(report, FUNCTION_NAMES)


def test_layer_holds_the_core_package_and_dependencies_with_their_byte_code(built: Built) -> None:
    tag = built.target.cache_tag
    with zipfile.ZipFile(built.out / "layer.zip") as zf:
        names = zf.namelist()
        flags = {n: int.from_bytes(zf.read(n)[4:8], "little") for n in names if n.endswith(".pyc")}
    assert all(name.startswith("python/") for name in names)
    for required in ("python/jwt/", "python/wscore/", "python/cryptography/", "python/cffi/"):
        assert required in names
    assert "python/wscore/__init__.py" in names and "python/jwt/__init__.py" in names
    sources = [PurePosixPath(n) for n in names if n.endswith(".py")]
    expected = {str(p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc") for p in sources}
    assert set(flags) == expected, "one .pyc per module, for the runtime, and no planted junk"
    assert set(flags.values()) == {0b01}, "hash-based and unchecked: no timestamp inside"
    assert not [n for n in names if n.endswith((".swp", ".pyo"))]
    assert not [
        n for n in names if n.startswith(("python/bin/", "python/boto3/", "python/botocore/"))
    ]
    dropped = {"INSTALLER", "REQUESTED", "direct_url.json"}
    assert not [n for n in names if ".dist-info/" in n and n.rsplit("/", 1)[1] in dropped]


def test_the_shipped_byte_code_is_what_python_runs(built: Built, tmp_path: Path) -> None:
    """Sources replaced by code that fails: imports still work, from the .pyc alone."""
    layer = unzip(built.out / "layer.zip", tmp_path / "layer") / "python"
    function = unzip(built.out / "functions" / "heartbeat.zip", tmp_path / "heartbeat")
    for source in [*layer.joinpath("wscore").rglob("*.py"), function / "heartbeat.py"]:
        source.write_text("raise ImportError('the source was compiled at import')\n")
    code = (
        "import sys; sys.path[:0] = sys.argv[1:]; import heartbeat, wscore.repository; "
        "print(wscore.repository.__spec__.cached); "
        "print(wscore.repository.conn_pk.__code__.co_filename)"
    )
    runtime = runtime_provided_dir(tmp_path / "runtime")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **HANDLER_ENV}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(function), str(layer), str(runtime)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    cached, filename = result.stdout.split()
    assert cached.endswith(f"wscore/__pycache__/repository.{built.target.cache_tag}.pyc")
    # The compiled-in path is fixed (/opt/python/..., so the bytes do not depend on where the
    # build ran); the loader points it at the real source file, which tracebacks show.
    assert filename == str(layer / "wscore" / "repository.py")


def test_each_function_zip_holds_its_module_and_byte_code_at_the_root(built: Built) -> None:
    for name in FUNCTION_NAMES:
        with zipfile.ZipFile(built.out / "functions" / f"{name}.zip") as zf:
            pyc = f"__pycache__/{name}.{built.target.cache_tag}.pyc"
            assert zf.namelist() == [pyc, f"{name}.py"]
            assert zf.read(f"{name}.py") == (built.sources.handlers / f"{name}.py").read_bytes()


def test_without_byte_code_the_artifacts_ship_sources_only(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "nobytecode"
    manifest = build.build(
        built.sources, built.target, out, find_links=wheelhouse(), no_index=True, bytecode="off"
    )
    assert manifest["bytecode"] is None
    for archive in [out / "layer.zip", *(out / "functions").glob("*.zip")]:
        with zipfile.ZipFile(archive) as zf:
            assert not [n for n in zf.namelist() if "__pycache__" in n or n.endswith(".pyc")]
    report = import_from_artifacts(out, FUNCTION_NAMES, tmp_path)
    assert_imports_alone(report, FUNCTION_NAMES)


def test_manifest_lists_every_artifact_with_its_terraform_hash(built: Built) -> None:
    manifest = json.loads((built.out / "manifest.json").read_text())
    assert manifest["runtime"] == built.target.runtime
    assert manifest["architecture"] == built.target.architecture
    assert manifest["bytecode"] == built.target.cache_tag  # this interpreter writes it
    entries = {"layer": manifest["layer"], **manifest["functions"]}
    assert sorted(manifest["functions"]) == FUNCTION_NAMES
    assert manifest["layer"]["file"] == "layer.zip"
    for name in FUNCTION_NAMES:
        assert manifest["functions"][name]["file"] == f"functions/{name}.zip"
    for entry in entries.values():
        digest = hashlib.sha256((built.out / entry["file"]).read_bytes()).digest()
        assert entry["sha256_base64"] == base64.b64encode(digest).decode()
    text = (built.out / "manifest.json").read_text()
    assert text == json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def test_rebuilding_after_touching_sources_gives_identical_bytes(
    built: Built, tmp_path: Path
) -> None:
    sources_files = [p for p in built.sources.lambda_src.rglob("*") if p.is_file()]
    for path in [*sources_files, built.sources.manifest, built.sources.requirements]:
        os.utime(path, (2_000_000_000, 2_000_000_000))
    out = tmp_path / "again"
    (out / "functions").mkdir(parents=True)
    (out / "functions" / "removed_function.zip").write_bytes(b"stale")

    run_build(built.sources, built.target, out)

    first = {p.relative_to(built.out): p.read_bytes() for p in built.out.rglob("*") if p.is_file()}
    second = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert sorted(second) == sorted(first), "stale or missing artifacts"
    for path, data in first.items():
        assert second[path] == data, f"{path} differs between two builds of the same sources"


def test_a_missing_handler_module_fails_the_build_by_name(built: Built, tmp_path: Path) -> None:
    sources_root = tmp_path / "src"
    shutil.copytree(built.sources.lambda_src, sources_root)
    (sources_root / "handlers" / "heartbeat.py").unlink()
    sources = build.Sources(sources_root, built.sources.manifest, built.sources.requirements)
    with pytest.raises(build.BuildError, match=r"'heartbeat'.*heartbeat\.py is missing"):
        run_build(sources, built.target, tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing is written when the sources are wrong"


XRAY_CHECK = r"""
import json, sys
runtime_dir, layer_dir = sys.argv[1], sys.argv[2]
sys.path.insert(0, layer_dir)
sys.path.append(runtime_dir)
import aws_xray_sdk, wrapt
from aws_xray_sdk.core import patch
patch(["botocore"])
import botocore
print(json.dumps({"xray": aws_xray_sdk.__file__, "wrapt": wrapt.__file__,
                  "botocore": botocore.__file__}))
"""


def test_the_xray_option_ships_the_sdk_without_botocore(built: Built, tmp_path: Path) -> None:
    """`make build XRAY_SDK=true`: the SDK and wrapt in the layer, recorded in the manifest;
    botocore (which the SDK requires) stays the runtime's."""
    sources = build.Sources(
        built.sources.lambda_src,
        built.sources.manifest,
        built.sources.requirements,
        (build.XRAY_REQUIREMENTS,),
    )
    out = tmp_path / "xray"
    manifest = run_build(sources, built.target, out)
    assert manifest["xray_sdk"] is True
    assert json.loads((built.out / "manifest.json").read_text())["xray_sdk"] is False
    with zipfile.ZipFile(out / "layer.zip") as zf:
        tops = {n.split("/")[1] for n in zf.namelist() if n.count("/") >= 2}
    assert {"aws_xray_sdk", "wrapt", "wscore", "jwt"} <= tops
    assert not {t for t in tops if t.startswith(("botocore", "boto3", "urllib3"))}, tops
    layer = unzip(out / "layer.zip", tmp_path / "layer") / "python"
    runtime = runtime_provided_dir(tmp_path / "runtime")
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", XRAY_CHECK, str(runtime), str(layer)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_XRAY_SDK_ENABLED": "false"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    files = json.loads(result.stdout)
    assert files["xray"].startswith(str(layer)) and files["wrapt"].startswith(str(layer))
    assert not files["botocore"].startswith(str(layer))


def test_the_xray_extra_pins_what_the_dev_environment_tests_with() -> None:
    extra = build.pinned_requirements(build.XRAY_REQUIREMENTS)
    dev = build.pinned_requirements(ROOT / "requirements" / "dev.txt")
    assert set(extra) == {"aws-xray-sdk", "wrapt"}
    assert {name: dev[name] for name in extra} == extra


def test_the_xray_option_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make build XRAY_SDK=true` passes it through the environment."""
    monkeypatch.setenv("XRAY_SDK", "true")
    assert build.parse_args([]).xray_sdk is True
    monkeypatch.setenv("XRAY_SDK", "false")
    assert build.parse_args([]).xray_sdk is False
