"""`make release`: one archive holding the Terraform module and its built Lambda artifacts.

The archive's root IS the module (main.tf, variables.tf, ..., modules/api_gateway_account/)
with the output of `make build` under `artifacts/`, where the module looks when
`artifacts_dir` is not set. So another repository uses it as a module source as it is:

    source = "https://releases.example.com/websocket_api-0.2.0-python3.13-arm64.tar.gz"
    source = "s3::https://s3-eu-west-1.amazonaws.com/my-bucket/websocket_api-0.2.0-python3.13-arm64.tar.gz"
    source = "./vendor/websocket_api"          # the archive unpacked into the repository

with neither `artifacts_dir` nor Python (nor this repository) on the consumer's side.

The archive is reproducible: entries sorted, owner 0:0, modes 0644/0755, mtime fixed, gzip
header without a name or time, so the same module and artifacts give the same bytes.
`release.json` at its root records the version, the commit and what the artifacts were
built for (runtime, architecture, X-Ray SDK).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from tools.manifest import ROOT

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

MODULE_DIR = ROOT / "modules" / "websocket_api"
ARTIFACTS_SUBDIR = "artifacts"
# What a consumer needs from the module directory; tests and examples stay in the repository.
EXCLUDED_PARTS = {"tests", "examples", ".terraform", "__pycache__", ARTIFACTS_SUBDIR}
EXCLUDED_NAMES = {".terraform.lock.hcl", "terraform.tfstate", "terraform.tfstate.backup"}
FIXED_MTIME = 315532800  # 1980-01-01, as the zips of `make build`


class ReleaseError(Exception):
    """Something the user must fix before a release can be made."""


def module_files(module_dir: Path = MODULE_DIR) -> dict[str, Path]:
    """Archive name -> source file, for the module itself."""
    files: dict[str, Path] = {}
    for path in sorted(module_dir.rglob("*")):
        relative = path.relative_to(module_dir)
        if not path.is_file() or EXCLUDED_PARTS.intersection(relative.parts):
            continue
        if path.name in EXCLUDED_NAMES or path.name.startswith("."):
            continue
        files[relative.as_posix()] = path
    return files


def artifact_files(artifacts: Path) -> tuple[dict[str, Path], dict[str, object]]:
    """Archive name -> file for `make build`'s manifest and every file it names."""
    manifest_path = artifacts / "manifest.json"
    if not manifest_path.is_file():
        raise ReleaseError(f"{manifest_path} does not exist: run `make build` first")
    manifest: dict[str, object] = json.loads(manifest_path.read_text())
    named = [manifest["layer"], *dict(manifest["functions"]).values()]  # type: ignore[call-overload]
    files = {f"{ARTIFACTS_SUBDIR}/manifest.json": manifest_path}
    for entry in named:
        path = artifacts / str(entry["file"])
        if not path.is_file():
            raise ReleaseError(f"{path}, named in {manifest_path}, does not exist: rebuild")
        files[f"{ARTIFACTS_SUBDIR}/{PurePosixPath(str(entry['file']))}"] = path
    return files, manifest


def git_commit() -> str | None:
    """The commit the release is made from (None outside a git work tree)."""
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def archive_name(version: str, manifest: dict[str, object]) -> str:
    return f"websocket_api-{version}-{manifest['runtime']}-{manifest['architecture']}.tar.gz"


def _tar_entries(tar: tarfile.TarFile, entries: Iterable[tuple[str, bytes]]) -> None:
    directories: set[str] = set()
    for name, data in entries:
        parents = PurePosixPath(name).parents
        for parent in reversed([str(p) for p in parents if str(p) != "."]):
            if parent not in directories:
                directories.add(parent)
                info = tarfile.TarInfo(parent)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
                tar.addfile(info)
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, FIXED_MTIME
        tar.addfile(info, io.BytesIO(data))


def make_release(
    artifacts: Path,
    out_dir: Path,
    version: str,
    *,
    module_dir: Path = MODULE_DIR,
    commit: str | None = None,
) -> Path:
    """Write the archive into out_dir and return its path."""
    files, manifest = artifact_files(artifacts)
    module = module_files(module_dir)
    clash = sorted(set(module) & set(files))
    if clash:
        raise ReleaseError(f"the module already holds {clash[0]}")
    release = {
        "version": version,
        "commit": commit,
        "runtime": manifest["runtime"],
        "architecture": manifest["architecture"],
        "xray_sdk": bool(manifest.get("xray_sdk", False)),
        "lambda_runtime_hint": (
            "set lambda_runtime and lambda_architecture to runtime and architecture "
            "(the module's defaults are python3.13 and arm64)"
        ),
    }
    entries = sorted(
        [(name, path.read_bytes()) for name, path in {**module, **files}.items()]
        + [("release.json", (json.dumps(release, indent=2, sort_keys=True) + "\n").encode())]
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _tar_entries(tar, entries)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / archive_name(version, manifest)
    with (
        target.open("wb") as handle,
        gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0) as gz,
    ):
        gz.write(raw.getvalue())
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifacts", type=Path, default=ROOT / "build")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--version", required=True)
    args = parser.parse_args(argv)
    try:
        path = make_release(args.artifacts, args.out, args.version, commit=git_commit())
    except ReleaseError as error:
        print(f"release: error: {error}", file=sys.stderr)
        return 2
    with tarfile.open(path) as tar:
        member = tar.extractfile("release.json")
        assert member is not None
        release = json.loads(member.read())
    print(f"release: {path}")
    print(
        f"release: built for {release['runtime']}/{release['architecture']}"
        f" (X-Ray SDK: {'yes' if release['xray_sdk'] else 'no'}); consumers use it as"
        ' `source = "<URL of this file>"` or unpacked as `source = "./vendor/websocket_api"`,'
        " without artifacts_dir (modules/websocket_api/README.md, Releases)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
