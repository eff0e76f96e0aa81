"""Build the Lambda layer and one zip per function, byte for byte reproducibly.

Terraform uploads an artifact when its `filebase64sha256` changes, so every byte that does
not come from the sources (timestamps, entry order, permissions, pip's bookkeeping, console
scripts whose shebang names this machine's venv) is fixed or dropped here. Building twice,
or after touching unchanged sources, gives identical zips and therefore an empty plan.

Outputs, under --out (default build/):
    layer.zip                python/<core package> + python/<third-party dependencies>
    functions/<name>.zip     <name>.py at the root, one per function of the manifest
    manifest.json            each artifact with its base64 SHA-256, read by Terraform

Byte-code: Lambda extracts layers to a read-only /opt, so modules shipped without `.pyc`
are compiled again at every cold start. The build therefore compiles every module with an
interpreter of the runtime's own Python version (this one, `python3.X` on PATH, a pyenv or
uv install of it, or --bytecode-python) into `__pycache__/<module>.cpython-3X.pyc`,
hash-based and unchecked (no timestamps, so the bytes depend on the source only; the zips
are immutable). Without such an interpreter the artifacts ship sources only, the build
says so, and the manifest's `bytecode` is null (--bytecode required makes it an error).

Third-party dependencies are installed by pip for the Lambda platform (manylinux wheels
for the runtime's glibc and the function architecture), never for this machine.
`--xray-sdk` (or XRAY_SDK=true in the environment: `make build XRAY_SDK=true`) adds the
AWS X-Ray SDK from requirements/lambda-extras/xray.txt, installed without dependencies
(botocore comes with the runtime); the manifest records it as `"xray_sdk": true`, which
the Terraform module requires when xray_sdk_enabled = true.
`--find-links DIR --no-index` builds offline from a wheelhouse made with `--download-wheels`.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tools.manifest import MANIFEST_PATH, ROOT

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    Artifact = tuple[Mapping[str, bytes], PurePosixPath]  # zip name -> bytes, where it runs

CORE_PACKAGE = "wscore"
LAYER_PREFIX = "python"

# Lambda runtime -> (Python version, glibc minor version of its OS image).
# python3.11 runs on Amazon Linux 2 (glibc 2.26), python3.12+ on Amazon Linux 2023 (2.34).
RUNTIMES: dict[str, tuple[str, int]] = {
    "python3.11": ("3.11", 26),
    "python3.12": ("3.12", 34),
    "python3.13": ("3.13", 34),
    "python3.14": ("3.14", 34),
}
# Lambda architecture name -> machine name used in wheel platform tags.
ARCHITECTURES: dict[str, str] = {"arm64": "aarch64", "x86_64": "x86_64"}
OLDEST_MANYLINUX_GLIBC = 17  # manylinux2014 == manylinux_2_17

# Fixed metadata of every zip entry: the zip format's epoch, Unix permissions.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644
DIR_MODE = 0o040755
MSDOS_DIRECTORY_FLAG = 0x10
UNIX_SYSTEM = 3
COMPRESS_LEVEL = 6  # zlib default: level 9 costs 3x the time for 0.6 % smaller

# What pip writes that varies between machines or runs, or that nothing at run time needs.
DROPPED_TOP_LEVEL = {"bin"}  # console scripts: their shebang is this machine's interpreter
DROPPED_DIST_INFO_FILES = {"INSTALLER", "REQUESTED", "direct_url.json"}
DROPPED_SUFFIXES = (".pyc", ".pyo")
DROPPED_DIRS = {"__pycache__"}

# Where Lambda puts the artifacts: the path compiled into each .pyc instead of the build's
# temporary one, so the bytes do not depend on where the build ran.
LAYER_MOUNT = PurePosixPath("/opt")
FUNCTION_MOUNT = PurePosixPath("/var/task")
BYTECODE_MODES = ("auto", "required", "off")

_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


class BuildError(Exception):
    """A problem the user must fix (bad option, missing handler, unpinned dependency)."""


@dataclass(frozen=True)
class Target:
    """The Lambda platform a build is for."""

    runtime: str
    architecture: str

    @classmethod
    def parse(cls, runtime: str, architecture: str) -> Target:
        """Validate both names up front so a typo fails before any download."""
        if runtime not in RUNTIMES:
            raise BuildError(
                f"unsupported runtime {runtime!r}: expected one of {', '.join(sorted(RUNTIMES))}"
            )
        if architecture not in ARCHITECTURES:
            raise BuildError(
                f"unsupported architecture {architecture!r}: "
                f"expected one of {', '.join(sorted(ARCHITECTURES))}"
            )
        return cls(runtime, architecture)

    @classmethod
    def this_machine(cls) -> Target | None:
        """The Lambda target this interpreter and machine can run, if there is one.

        Offline tests build for it so that they can import the built artifacts here.
        """
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
        machine = platform.machine().lower()
        architecture = {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}
        if sys.platform != "linux" or runtime not in RUNTIMES or machine not in architecture:
            return None
        return cls(runtime, architecture[machine])

    @property
    def python_version(self) -> str:
        return RUNTIMES[self.runtime][0]

    @property
    def cache_tag(self) -> str:
        """The byte-code tag of the runtime's interpreter, e.g. cpython-313."""
        return "cpython-" + self.python_version.replace(".", "")

    def platform_tags(self) -> list[str]:
        """Every manylinux tag the runtime's glibc can load, for pip's --platform.

        pip does not expand `manylinux2014` to the PEP 600 `manylinux_2_x` tags, so wheels
        published only as e.g. `manylinux_2_28` would be missed without listing them.
        """
        machine = ARCHITECTURES[self.architecture]
        glibc_minor = RUNTIMES[self.runtime][1]
        tags = [f"manylinux2014_{machine}"]
        tags += [
            f"manylinux_2_{minor}_{machine}"
            for minor in range(OLDEST_MANYLINUX_GLIBC, glibc_minor + 1)
        ]
        return tags

    def pip_platform_args(self) -> list[str]:
        """pip options that select wheels for the Lambda platform instead of this machine."""
        args: list[str] = []
        for tag in self.platform_tags():
            args += ["--platform", tag]
        return [
            *args,
            "--implementation",
            "cp",
            "--python-version",
            self.python_version,
            "--only-binary=:all:",
        ]


XRAY_REQUIREMENTS = ROOT / "requirements" / "lambda-extras" / "xray.txt"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Sources:
    """Where the inputs live; tests point this at a temporary tree."""

    lambda_src: Path
    manifest: Path
    requirements: Path
    # Optional extras, each installed with --no-deps on top of `requirements`.
    extras: tuple[Path, ...] = ()

    @property
    def core_package(self) -> Path:
        return self.lambda_src / CORE_PACKAGE

    @property
    def handlers(self) -> Path:
        return self.lambda_src / "handlers"


# --- sources -------------------------------------------------------------------------------


def function_modules(sources: Sources) -> dict[str, Path]:
    """Map each function of the manifest to its handler module, checking the contract.

    The handler string must be `<name>.handler` because the module sits at the zip root
    under the function's name; a missing module fails here, not at the first invocation.
    """
    manifest = json.loads(sources.manifest.read_text(encoding="utf-8"))
    functions = manifest.get("functions")
    if not isinstance(functions, dict) or not functions:
        raise BuildError(f"{sources.manifest}: no 'functions' object")
    modules: dict[str, Path] = {}
    problems: list[str] = []
    for name in sorted(functions):
        handler = functions[name].get("handler") if isinstance(functions[name], dict) else None
        if not name.isidentifier():
            problems.append(f"function name {name!r} is not a valid Python module name")
        elif handler != f"{name}.handler":
            problems.append(f"function {name!r}: handler is {handler!r}, expected '{name}.handler'")
        else:
            module = sources.handlers / f"{name}.py"
            if not module.is_file():
                problems.append(f"function {name!r}: handler module {module} is missing")
            modules[name] = module
    if problems:
        raise BuildError("manifest and handlers disagree:\n  " + "\n  ".join(problems))
    return modules


def package_files(root: Path, prefix: PurePosixPath) -> dict[str, Path]:
    """Files of a source tree as zip names, minus byte code and hidden/editor files."""
    if not root.is_dir():
        raise BuildError(f"core package {root} is missing")
    files: dict[str, Path] = {}
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part in DROPPED_DIRS or part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and not path.name.endswith((*DROPPED_SUFFIXES, "~")):
            files[str(prefix / relative.as_posix())] = path
    return files


def pinned_requirements(requirements: Path) -> dict[str, str]:
    """Canonical name -> version of every `name==version` line (options are ignored)."""
    pins: dict[str, str] = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        match = _REQUIREMENT.match(line.strip())
        if match:
            pins[canonical_name(match.group(1))] = match.group(2)
    return pins


def canonical_name(name: str) -> str:
    """PEP 503 normalisation, so `PyJWT` and `pyjwt` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- third-party dependencies --------------------------------------------------------------


def pip_command(*args: str) -> list[str]:
    """pip of the interpreter running the build, quiet, never asking anything."""
    return [
        sys.executable,
        "-m",
        "pip",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        *args,
    ]


def index_args(find_links: Path | None, no_index: bool) -> list[str]:
    """Where pip may look: a wheelhouse, and with --no-index nothing else (offline)."""
    args = ["--find-links", str(find_links)] if find_links else []
    return [*args, "--no-index"] if no_index else args


def install_dependencies(
    target: Target,
    requirements: Path,
    dest: Path,
    find_links: Path | None,
    no_index: bool,
    *,
    no_deps: bool = False,
) -> None:
    """pip-install the pinned requirements for the Lambda platform into `dest`."""
    command = pip_command(
        "install",
        *target.pip_platform_args(),
        "--target",
        str(dest),
        "--no-compile",
        "--no-warn-conflicts",  # the check scans the build venv (seconds) and is moot here
        "--progress-bar",
        "off",
        *(["--no-deps"] if no_deps else []),
        *index_args(find_links, no_index),
        "-r",
        str(requirements),
    )
    run(command, f"installing {requirements} for {target.runtime}/{target.architecture}")


def download_wheels(
    target: Target,
    requirements: Path,
    dest: Path,
    find_links: Path | None,
    no_index: bool,
    *,
    no_deps: bool = False,
) -> None:
    """Fill a wheelhouse with the wheels `install_dependencies` needs, for offline builds."""
    dest.mkdir(parents=True, exist_ok=True)
    command = pip_command(
        "download",
        *target.pip_platform_args(),
        "--dest",
        str(dest),
        "--progress-bar",
        "off",
        *(["--no-deps"] if no_deps else []),
        *index_args(find_links, no_index),
        "-r",
        str(requirements),
    )
    run(command, f"downloading wheels of {requirements} for {target.runtime}/{target.architecture}")


def run(command: Sequence[str], what: str) -> None:
    """Run pip, turning its failure into a BuildError (pip has already said why)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(command, check=False, env=env)
    if result.returncode != 0:
        raise BuildError(f"{what} failed (pip exit status {result.returncode})")


def dependency_files(site: Path, pins: Mapping[str, str]) -> dict[str, Path]:
    """What pip installed, as layer zip names, minus what varies between builds.

    Also refuses a dependency set that differs from the pins: an unpinned transitive
    dependency would make the layer change whenever its latest release does.
    """
    check_installed_matches_pins(site, pins)
    files: dict[str, Path] = {}
    for path in site.rglob("*"):
        relative = path.relative_to(site)
        if relative.parts[0] in DROPPED_TOP_LEVEL or DROPPED_DIRS.intersection(relative.parts):
            continue
        if not path.is_file() or path.name.endswith(DROPPED_SUFFIXES):
            continue
        if relative.parent.name.endswith(".dist-info") and path.name in DROPPED_DIST_INFO_FILES:
            continue
        files[f"{LAYER_PREFIX}/{relative.as_posix()}"] = path
    return files


def check_installed_matches_pins(site: Path, pins: Mapping[str, str]) -> None:
    """Compare the installed distributions with the pins, naming every difference."""
    installed: dict[str, str] = {}
    for dist_info in site.glob("*.dist-info"):
        name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
        installed[canonical_name(name)] = version
    problems = [
        f"{name}=={version} is installed but not pinned"
        for name, version in sorted(installed.items())
        if name not in pins
    ]
    problems += [
        f"{name}=={version} is installed but {pins[name]} is pinned"
        for name, version in sorted(installed.items())
        if name in pins and pins[name] != version
    ]
    if problems:
        raise BuildError(
            "the layer's requirements are not fully pinned:\n  " + "\n  ".join(problems)
        )


def normalized_record(record: bytes, shipped: Iterable[str]) -> bytes:
    """RECORD without the rows of files the layer leaves out, sorted, with LF endings."""
    keep = set(shipped)
    rows = [
        row
        for row in csv.reader(io.StringIO(record.decode("utf-8")))
        if row and f"{LAYER_PREFIX}/{row[0]}" in keep
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(sorted(rows))
    return out.getvalue().encode("utf-8")


# --- byte-code -----------------------------------------------------------------------------

# Runs in the runtime-version interpreter: compiles the listed files in place, hash-based.
_COMPILE_SCRIPT = r"""
import json, py_compile, sys
failed = []
for source, shown in json.load(sys.stdin):
    try:
        py_compile.compile(source, dfile=shown, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError as error:
        failed.append([shown, str(error.msg).strip().splitlines()[-1]])
print(json.dumps({"cache_tag": sys.implementation.cache_tag, "failed": failed}))
"""


def cache_tag_of(python: str) -> str | None:
    """`sys.implementation.cache_tag` of an interpreter (e.g. cpython-313), None if unusable."""
    try:
        result = subprocess.run(
            [python, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def interpreter_candidates(version: str) -> list[str]:
    """This interpreter, `pythonX.Y` on PATH, then pyenv's and uv's installs of X.Y."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    uv = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "uv" / "python"
    installed = [
        *sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True),
        *sorted(uv.glob(f"cpython-{version}.*/bin/python{version}"), reverse=True),
    ]
    return [sys.executable, f"python{version}", *map(str, installed)]


def bytecode_python(target: Target, mode: str, explicit: str | None) -> str | None:
    """An interpreter that writes byte-code the runtime loads, or None (sources only).

    Byte-code is only valid for the Python version that wrote it, so a 3.11 build machine
    cannot compile for python3.13: it needs a 3.13 interpreter, or ships sources only.
    """
    if mode not in BYTECODE_MODES:
        choices = ", ".join(BYTECODE_MODES)
        raise BuildError(f"unknown --bytecode {mode!r}: expected one of {choices}")
    if mode == "off":
        return None
    wanted = target.cache_tag
    candidates = [explicit] if explicit else interpreter_candidates(target.python_version)
    for candidate in candidates:
        python = shutil.which(candidate) if candidate else None
        if python and cache_tag_of(python) == wanted:
            return python
    if explicit:
        raise BuildError(
            f"--bytecode-python {explicit} is not a CPython {target.python_version} "
            f"interpreter (byte-code for {target.runtime} must be written by one)"
        )
    if mode == "required":
        raise BuildError(
            f"no CPython {target.python_version} interpreter found to write byte-code for "
            f"{target.runtime}: put python{target.python_version} on PATH, pass "
            "--bytecode-python, or build with --bytecode auto|off"
        )
    return None


def compile_bytecode(python: str, artifacts: Sequence[Artifact]) -> list[dict[str, bytes]]:
    """`__pycache__` entries for every module of each artifact, in one interpreter run.

    A file that does not compile for this Python version (a dependency's template, say) is
    left without byte-code and named on stderr; importing it would fail either way.
    """
    with tempfile.TemporaryDirectory(prefix="wsbytecode-") as tmp:
        jobs: list[list[str]] = []
        sources: list[tuple[Path, list[str]]] = []
        for index, (contents, mount) in enumerate(artifacts):
            root = Path(tmp) / str(index)
            names = sorted(name for name in contents if name.endswith(".py"))
            for name in names:
                path = root / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(contents[name])
                jobs.append([str(path), str(mount / name)])
            sources.append((root, names))
        result = subprocess.run(
            [python, "-I", "-c", _COMPILE_SCRIPT],
            input=json.dumps(jobs),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BuildError(f"compiling byte-code with {python} failed:\n{result.stderr}")
        report = json.loads(result.stdout)
        for shown, why in report["failed"]:
            print(f"build: no byte-code for {shown}: {why}", file=sys.stderr)
        compiled: list[dict[str, bytes]] = []
        for root, names in sources:
            pycs: dict[str, bytes] = {}
            for name in names:
                module = PurePosixPath(name)
                pyc_name = (
                    f"{module.parent / '__pycache__' / module.stem}.{report['cache_tag']}.pyc"
                )
                if (root / pyc_name).is_file():
                    pycs[pyc_name] = (root / pyc_name).read_bytes()
            compiled.append(pycs)
        return compiled


# --- zips ----------------------------------------------------------------------------------


def entry_info(name: str) -> zipfile.ZipInfo:
    """Zip metadata that depends on nothing but the entry name."""
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.create_system = UNIX_SYSTEM
    if name.endswith("/"):
        info.external_attr = (DIR_MODE << 16) | MSDOS_DIRECTORY_FLAG
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = FILE_MODE << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def with_directories(names: Iterable[str]) -> list[str]:
    """File names plus an entry for each parent directory, parents before children."""
    entries = set(names)
    for name in list(entries):
        parent = PurePosixPath(name).parent
        while str(parent) != ".":
            entries.add(f"{parent}/")
            parent = parent.parent
    return sorted(entries, key=lambda entry: PurePosixPath(entry).parts)


def write_zip(dest: Path, contents: Mapping[str, bytes], *, directories: bool) -> None:
    """Write `contents` (zip name -> bytes) deterministically, replacing `dest` atomically."""
    names = with_directories(contents) if directories else sorted(contents)
    partial = dest.with_name(f".{dest.name}.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in names:
            data = b"" if name.endswith("/") else contents[name]
            archive.writestr(entry_info(name), data, compresslevel=COMPRESS_LEVEL)
    partial.replace(dest)


def file_base64_sha256(path: Path) -> str:
    """Terraform's filebase64sha256(): base64 of the raw SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode("ascii")


# --- build ---------------------------------------------------------------------------------


def layer_contents(
    sources: Sources, target: Target, find_links: Path | None, no_index: bool
) -> dict[str, bytes]:
    """Core package + dependencies for the Lambda platform, as zip name -> bytes."""
    core = package_files(sources.core_package, PurePosixPath(LAYER_PREFIX, CORE_PACKAGE))
    with tempfile.TemporaryDirectory(prefix="wsbuild-") as tmp:
        site = Path(tmp) / "site"
        install_dependencies(target, sources.requirements, site, find_links, no_index)
        pins = pinned_requirements(sources.requirements)
        for extra in sources.extras:
            install_dependencies(target, extra, site, find_links, no_index, no_deps=True)
            pins.update(pinned_requirements(extra))
        deps = dependency_files(site, pins)
        clash = sorted(set(core) & set(deps))
        if clash:
            raise BuildError(f"a dependency ships files of the core package: {clash[:3]}")
        contents = {name: path.read_bytes() for name, path in deps.items()}
    for name, data in contents.items():
        if PurePosixPath(name).name == "RECORD" and name.endswith(".dist-info/RECORD"):
            contents[name] = normalized_record(data, contents)
    contents.update({name: path.read_bytes() for name, path in core.items()})
    return contents


def build(
    sources: Sources,
    target: Target,
    out: Path,
    *,
    find_links: Path | None = None,
    no_index: bool = False,
    bytecode: str = "auto",
    bytecode_with: str | None = None,
) -> dict[str, object]:
    """Write the layer, the function zips and the manifest under `out`; return the manifest."""
    modules = function_modules(sources)
    python = bytecode_python(target, bytecode, bytecode_with)
    if python is None and bytecode == "auto":
        print(
            f"build: no CPython {target.python_version} interpreter found: the artifacts ship "
            f"sources only, so {target.runtime} compiles them at every cold start "
            f"(put python{target.python_version} on PATH or pass --bytecode-python)",
            file=sys.stderr,
        )
    layer = layer_contents(sources, target, find_links, no_index)
    functions = {name: {f"{name}.py": module.read_bytes()} for name, module in modules.items()}
    if python is not None:
        artifacts = [
            (layer, LAYER_MOUNT),
            *((files, FUNCTION_MOUNT) for files in functions.values()),
        ]
        for (contents, _), pycs in zip(artifacts, compile_bytecode(python, artifacts), strict=True):
            contents.update(pycs)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".functions-", dir=out))
    staging.chmod(0o755)  # mkdtemp makes it private; it becomes out/functions
    try:
        for name, files in functions.items():
            write_zip(staging / f"{name}.zip", files, directories=False)
        write_zip(out / "layer.zip", layer, directories=True)
        shutil.rmtree(out / "functions", ignore_errors=True)  # drop zips of removed functions
        staging.replace(out / "functions")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    manifest: dict[str, object] = {
        "runtime": target.runtime,
        "architecture": target.architecture,
        "bytecode": target.cache_tag if python is not None else None,
        "xray_sdk": XRAY_REQUIREMENTS.name in {p.name for p in sources.extras},
        "layer": {"file": "layer.zip", "sha256_base64": file_base64_sha256(out / "layer.zip")},
        "functions": {
            name: {
                "file": f"functions/{name}.zip",
                "sha256_base64": file_base64_sha256(out / "functions" / f"{name}.zip"),
            }
            for name in modules
        },
    }
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (out / "manifest.json").write_text(text, encoding="utf-8")
    return manifest


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} KB"


def summary(manifest: Mapping[str, Any], out: Path) -> str:
    """What `make build` prints: the artifacts, their sizes and whether byte-code ships."""
    layer = out / str(manifest["layer"]["file"])
    functions = {
        name: (out / str(entry["file"])).stat().st_size
        for name, entry in manifest["functions"].items()
    }
    tag = manifest["bytecode"]
    smallest, largest = min(functions.values()), max(functions.values())
    return "\n".join(
        [
            f"build: {manifest['runtime']}/{manifest['architecture']} -> {out}",
            f"  byte-code      {f'yes ({tag})' if tag else 'no (sources only)'}",
            f"  layer.zip      {_size(layer.stat().st_size)}",
            f"  functions/     {len(functions)} zips, {_size(smallest)} to {_size(largest)}",
            "  manifest.json  the SHA-256 of every artifact, for Terraform",
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", default="python3.13", help=", ".join(sorted(RUNTIMES)))
    parser.add_argument("--arch", default="arm64", help=", ".join(sorted(ARCHITECTURES)))
    parser.add_argument(
        "--local",
        action="store_true",
        help="target this machine's Python and architecture instead of --runtime/--arch",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--src", type=Path, default=ROOT / "lambda_src")
    parser.add_argument("--manifest", type=Path, default=MANIFEST_PATH)
    parser.add_argument("--requirements", type=Path, default=ROOT / "requirements/lambda.txt")
    parser.add_argument("--find-links", type=Path, help="a directory of wheels (a wheelhouse)")
    parser.add_argument("--no-index", action="store_true", help="use --find-links only")
    parser.add_argument(
        "--bytecode",
        choices=BYTECODE_MODES,
        default="auto",
        help="ship .pyc for the runtime: auto (when an interpreter of its version is found), "
        "required, off",
    )
    parser.add_argument(
        "--bytecode-python",
        metavar="PYTHON",
        help="the interpreter that writes the byte-code (CPython of the runtime's version)",
    )
    parser.add_argument(
        "--xray-sdk",
        action="store_true",
        default=os.environ.get("XRAY_SDK", "").strip().lower() in _TRUE,
        help="ship the AWS X-Ray SDK in the layer (default: XRAY_SDK=true in the environment)",
    )
    parser.add_argument(
        "--download-wheels",
        type=Path,
        metavar="DIR",
        help="only download the wheels the build needs into DIR (for offline builds)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        target = Target.this_machine() if args.local else Target.parse(args.runtime, args.arch)
        if target is None:
            print("build: this machine runs no Lambda Python runtime; nothing to do")
            return 0
        if args.download_wheels:
            download_wheels(
                target, args.requirements, args.download_wheels, args.find_links, args.no_index
            )
            # Every optional extra too, so that offline builds can test them.
            download_wheels(
                target,
                XRAY_REQUIREMENTS,
                args.download_wheels,
                args.find_links,
                args.no_index,
                no_deps=True,
            )
            return 0
        extras = (XRAY_REQUIREMENTS,) if args.xray_sdk else ()
        sources = Sources(args.src, args.manifest, args.requirements, extras)
        manifest = build(
            sources,
            target,
            args.out,
            find_links=args.find_links,
            no_index=args.no_index,
            bytecode=args.bytecode,
            bytecode_with=args.bytecode_python,
        )
    except BuildError as error:
        print(f"build: error: {error}", file=sys.stderr)
        return 2
    print(summary(manifest, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
