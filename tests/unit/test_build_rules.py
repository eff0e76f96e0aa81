"""The rules of `tools/build.py` that need no pip: targets, sources, pip leftovers, zips."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

from tools import build


@pytest.mark.parametrize(
    ("runtime", "arch", "machine", "newest_glibc"),
    [
        ("python3.11", "x86_64", "x86_64", 26),  # Amazon Linux 2
        ("python3.12", "arm64", "aarch64", 34),  # Amazon Linux 2023
        ("python3.13", "arm64", "aarch64", 34),
        ("python3.13", "x86_64", "x86_64", 34),
        ("python3.14", "arm64", "aarch64", 34),
    ],
)
def test_platform_tags_cover_exactly_what_the_runtime_glibc_loads(
    runtime: str, arch: str, machine: str, newest_glibc: int
) -> None:
    tags = build.Target.parse(runtime, arch).platform_tags()
    expected = [f"manylinux2014_{machine}"] + [
        f"manylinux_2_{minor}_{machine}" for minor in range(17, newest_glibc + 1)
    ]
    assert tags == expected


def test_pip_arguments_select_the_lambda_interpreter_not_this_one() -> None:
    args = build.Target.parse("python3.13", "arm64").pip_platform_args()
    assert args[args.index("--python-version") + 1] == "3.13"
    assert args[args.index("--implementation") + 1] == "cp"
    assert "--only-binary=:all:" in args
    assert args.count("--platform") == len(
        build.Target.parse("python3.13", "arm64").platform_tags()
    )


@pytest.mark.parametrize(
    ("runtime", "arch", "message"),
    [
        ("python3.10", "arm64", "unsupported runtime 'python3.10'"),
        ("3.13", "arm64", "unsupported runtime '3.13'"),
        ("python3.13", "aarch64", "unsupported architecture 'aarch64'"),
        ("python3.13", "amd64", "unsupported architecture 'amd64'"),
    ],
)
def test_unknown_runtime_or_architecture_is_refused_with_the_valid_choices(
    runtime: str, arch: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(build.BuildError, match=message):
        build.Target.parse(runtime, arch)
    assert build.main(["--runtime", runtime, "--arch", arch]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert ("python3.11, python3.12, python3.13" in err) or ("arm64, x86_64" in err)


def make_sources(root: Path, functions: dict[str, object]) -> build.Sources:
    (root / "lambda_src" / "handlers").mkdir(parents=True)
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps({"functions": functions}))
    return build.Sources(root / "lambda_src", manifest, root / "lambda.txt")


def test_handlers_come_from_the_manifest(tmp_path: Path) -> None:
    sources = make_sources(tmp_path, {"b": {"handler": "b.handler"}, "a": {"handler": "a.handler"}})
    for name in ("a", "b", "not_in_manifest"):
        (sources.handlers / f"{name}.py").write_text("def handler(e, c): ...\n")
    assert build.function_modules(sources) == {
        "a": sources.handlers / "a.py",
        "b": sources.handlers / "b.py",
    }


def test_every_manifest_problem_is_reported_at_once(tmp_path: Path) -> None:
    sources = make_sources(
        tmp_path,
        {
            "missing": {"handler": "missing.handler"},
            "renamed": {"handler": "other.handler"},
            "bad-name": {"handler": "bad-name.handler"},
        },
    )
    (sources.handlers / "renamed.py").write_text("")
    with pytest.raises(build.BuildError) as raised:
        build.function_modules(sources)
    text = str(raised.value)
    assert "'missing': handler module" in text and "missing.py is missing" in text
    assert "'renamed': handler is 'other.handler', expected 'renamed.handler'" in text
    assert "'bad-name' is not a valid Python module name" in text


def test_core_package_files_leave_out_byte_code_and_hidden_files(tmp_path: Path) -> None:
    package = tmp_path / "wscore"
    for relative in (
        "__init__.py",
        "sub/mod.py",
        "py.typed",
        "__pycache__/x.pyc",
        "sub/y.pyc",
        ".hidden/z.py",
        ".mod.py.swp",
        "mod.py~",
    ):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text("x")
    files = build.package_files(package, PurePosixPath("python/wscore"))
    assert sorted(files) == [
        "python/wscore/__init__.py",
        "python/wscore/py.typed",
        "python/wscore/sub/mod.py",
    ]


def fake_site(root: Path, dists: dict[str, str]) -> Path:
    """A pip --target directory with what pip really writes (seen with pip 23)."""
    for name, version in dists.items():
        info = root / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        for leaf in ("METADATA", "WHEEL", "INSTALLER", "REQUESTED", "direct_url.json"):
            (info / leaf).write_text(leaf)
        (info / "RECORD").write_text(
            f"{name}/__init__.py,sha256=x,1\n../../bin/{name}-cli,sha256=y,2\n"
            f"{info.name}/INSTALLER,sha256=z,4\n{info.name}/METADATA,sha256=w,8\n"
            f"{info.name}/RECORD,,\n"
        )
        (root / name / "__pycache__").mkdir(parents=True)
        (root / name / "__init__.py").write_text("")
        (root / name / "__pycache__" / "__init__.cpython-313.pyc").write_text("")
    (root / "bin").mkdir()
    (root / "bin" / "tool-cli").write_text("#!/home/someone/.venv/bin/python\n")
    return root


def test_pip_leftovers_that_vary_are_dropped(tmp_path: Path) -> None:
    site = fake_site(tmp_path, {"pyjwt": "2.15.1"})
    files = build.dependency_files(site, {"pyjwt": "2.15.1"})
    assert sorted(files) == [
        "python/pyjwt-2.15.1.dist-info/METADATA",
        "python/pyjwt-2.15.1.dist-info/RECORD",
        "python/pyjwt-2.15.1.dist-info/WHEEL",
        "python/pyjwt/__init__.py",
    ]


def test_record_keeps_only_the_rows_of_shipped_files(tmp_path: Path) -> None:
    site = fake_site(tmp_path, {"pyjwt": "2.15.1"})
    record = site / "pyjwt-2.15.1.dist-info" / "RECORD"
    shipped = build.dependency_files(site, {"pyjwt": "2.15.1"})
    assert build.normalized_record(record.read_bytes(), shipped) == (
        b"pyjwt-2.15.1.dist-info/METADATA,sha256=w,8\n"
        b"pyjwt-2.15.1.dist-info/RECORD,,\n"
        b"pyjwt/__init__.py,sha256=x,1\n"
    )


@pytest.mark.parametrize(
    ("installed", "problem"),
    [
        ({"pyjwt": "2.15.1", "extra_dep": "1.0"}, "extra-dep==1.0 is installed but not pinned"),
        ({"pyjwt": "2.14.0"}, "pyjwt==2.14.0 is installed but 2.15.1 is pinned"),
    ],
)
def test_a_dependency_set_that_differs_from_the_pins_is_refused(
    tmp_path: Path, installed: dict[str, str], problem: str
) -> None:
    site = fake_site(tmp_path, installed)
    with pytest.raises(build.BuildError, match=problem):
        build.dependency_files(site, {"pyjwt": "2.15.1"})


def test_pins_are_read_with_canonical_names(tmp_path: Path) -> None:
    requirements = tmp_path / "r.txt"
    requirements.write_text(
        "# comment\n-r other.txt\nPyJWT==2.15.1\ncryptography[ssh] == 50.0.2 ; python_version>'3'\n"
        "Some_Thing.x==1.0  # trailing\n\n"
    )
    assert build.pinned_requirements(requirements) == {
        "pyjwt": "2.15.1",
        "cryptography": "50.0.2",
        "some-thing-x": "1.0",
    }


def test_zips_depend_on_content_only(tmp_path: Path) -> None:
    contents = {"python/b/x.py": b"x" * 1000, "python/a.py": b"a", "python/b/c/d.txt": b"d"}
    build.write_zip(tmp_path / "one.zip", contents, directories=True)
    build.write_zip(tmp_path / "two.zip", dict(reversed(contents.items())), directories=True)
    os.utime(tmp_path / "one.zip", (0, 0))
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.zip") as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == [
        "python/",
        "python/a.py",
        "python/b/",
        "python/b/c/",
        "python/b/c/d.txt",
        "python/b/x.py",
    ]
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.create_system == 3
        assert info.external_attr >> 16 == (0o040755 if info.is_dir() else 0o100644)
    assert not list(tmp_path.glob(".*partial")), "the temporary file was left behind"


def test_function_zips_have_no_directory_entries(tmp_path: Path) -> None:
    build.write_zip(
        tmp_path / "f.zip", {"connect.py": b"def handler(e, c): ...\n"}, directories=False
    )
    with zipfile.ZipFile(tmp_path / "f.zip") as zf:
        assert zf.namelist() == ["connect.py"]


def test_hash_is_terraform_filebase64sha256(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"")
    assert build.file_base64_sha256(path) == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    path.write_bytes(b"layer")
    assert (
        build.file_base64_sha256(path)
        == base64.b64encode(hashlib.sha256(b"layer").digest()).decode()
    )


def _other_runtime() -> build.Target:
    """A runtime whose Python version is not this interpreter's."""
    this = f"python{sys.version_info.major}.{sys.version_info.minor}"
    other = "python3.12" if this != "python3.12" else "python3.13"
    return build.Target.parse(other, "arm64")


def test_byte_code_is_written_by_an_interpreter_of_the_runtimes_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    this = build.Target.this_machine()
    if this is not None:
        assert build.bytecode_python(this, "auto", None) == shutil.which(sys.executable)
    assert build.bytecode_python(_other_runtime(), "off", None) is None
    monkeypatch.setattr(build, "interpreter_candidates", lambda _v: [sys.executable])
    other = _other_runtime()
    assert build.bytecode_python(other, "auto", None) is None  # sources only, said by build()
    with pytest.raises(build.BuildError, match=rf"no CPython {other.python_version} .* on PATH"):
        build.bytecode_python(other, "required", None)
    with pytest.raises(build.BuildError, match="is not a CPython"):
        build.bytecode_python(other, "auto", sys.executable)
    with pytest.raises(build.BuildError, match="unknown --bytecode 'always'"):
        build.bytecode_python(other, "always", None)


def test_byte_code_is_reproducible_and_skips_what_does_not_compile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    contents = {
        "python/pkg/__init__.py": b"VALUE = 1\n",
        "python/pkg/mod.py": b"def f():\n    return 2\n",
        "python/pkg/py2.py": b"print 'old syntax'\n",
        "python/pkg/data.txt": b"not python",
    }
    first = build.compile_bytecode(sys.executable, [(contents, build.LAYER_MOUNT)])[0]
    tag = sys.implementation.cache_tag
    assert sorted(first) == [
        f"python/pkg/__pycache__/__init__.{tag}.pyc",
        f"python/pkg/__pycache__/mod.{tag}.pyc",
    ]
    assert "no byte-code for /opt/python/pkg/py2.py" in capsys.readouterr().err
    assert build.compile_bytecode(sys.executable, [(contents, build.LAYER_MOUNT)])[0] == first


def test_the_build_prints_a_short_summary_not_the_manifest(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "layer.zip").write_bytes(b"x" * 5_800_000)
    (tmp_path / "functions" / "a.zip").write_bytes(b"x" * 1_200)
    (tmp_path / "functions" / "b.zip").write_bytes(b"x" * 3_400)
    manifest = {
        "runtime": "python3.13",
        "architecture": "arm64",
        "bytecode": "cpython-313",
        "layer": {"file": "layer.zip", "sha256_base64": "h"},
        "functions": {
            "a": {"file": "functions/a.zip", "sha256_base64": "h"},
            "b": {"file": "functions/b.zip", "sha256_base64": "h"},
        },
    }
    text = build.summary(manifest, tmp_path)
    assert text.splitlines() == [
        f"build: python3.13/arm64 -> {tmp_path}",
        "  byte-code      yes (cpython-313)",
        "  layer.zip      5.8 MB",
        "  functions/     2 zips, 1.2 KB to 3.4 KB",
        "  manifest.json  the SHA-256 of every artifact, for Terraform",
    ]
    assert "sha256_base64" not in text
    sources_only = build.summary({**manifest, "bytecode": None}, tmp_path)
    assert "  byte-code      no (sources only)" in sources_only.splitlines()
