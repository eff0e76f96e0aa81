"""Rebuild part of the hashicorp/aws provider schema from the cdktn-provider-aws wheel.

No machine here reaches registry.terraform.io, so `terraform providers schema -json` cannot be
run against the real provider. The PyPI wheel `cdktn-provider-aws` is generated from that
schema and keeps enough of it in its JavaScript bindings: before each attribute getter a
comment `// <attr> - computed: X, optional: Y, required: Z`, and in every
`*ToHclTerraform` function / `synthesizeHclAttributes()` the attribute's type and whether it
is a nested block. This module turns those back into the JSON format of
`terraform providers schema -json`, for the resource and data source types we name.

Re-run (dev-time only, the wheel is ~70 MB and never installed by `make test`):

    pip download --no-deps cdktn-provider-aws==25.8.1 -d /tmp/cdktn
    .venv/bin/python -m tools.terraform.gen_schema \\
        --wheel /tmp/cdktn/cdktn_provider_aws-25.8.1-py3-none-any.whl \\
        --out tools/terraform/aws_schema.json \\
        aws_sqs_queue data.aws_region ...

Names prefixed with `data.` are data sources. The types already in `--out` are kept
(regenerated) and the named ones added; `--fresh` starts from the names given.
`--scan modules --scan terraform` adds every aws_* type the .tf files declare (what
`make tf-schema` runs).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROVIDER_ADDR = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "6.69.1"
CDKTN_VERSION = "25.8.1"
DEFAULT_OUT = Path(__file__).with_name("aws_schema.json")

# The provider class lists every block with listMapper, so the bindings do not show which
# provider blocks take at most one item. These come from the provider's documentation.
PROVIDER_MAX_ONE = {"default_tags", "ignore_tags", "assume_role_with_web_identity"}

_COMMENT = re.compile(
    r"^\s*// (\w+) - computed: (true|false), optional: (true|false), required: (true|false)\s*$"
)
_HCL_ENTRY = re.compile(
    r"(\w+): \{\s*value: (?P<value>.*?),\s*isBlock: (?P<block>true|false),\s*"
    r'type: "(?P<type>\w+)",\s*storageClassType: "(?P<sct>\w+)",\s*\}',
    re.S,
)
_SCALARS = {"string": "string", "number": "number", "boolean": "bool", "any": "dynamic"}

Json = dict[str, Any]


@dataclass
class HclEntry:
    """One configurable attribute or block as `*ToHclTerraform` describes it."""

    is_block: bool
    kind: str  # simple | list | set | map | struct
    storage: str  # e.g. string, stringList, DynamodbTableTtlList
    list_mapper: bool  # listMapperHcl(...) means many items; a bare call means at most one


@dataclass
class FieldInfo:
    """One attribute comment (`// x - computed: ...`) and the getter code that follows it."""

    computed: bool
    optional: bool
    required: bool
    code: str


@dataclass
class Source:
    """The parsed bindings of one resource, data source or the provider."""

    main_class: str
    hcl: dict[str, dict[str, HclEntry]] = field(default_factory=dict)  # by function base
    fields: dict[str, dict[str, FieldInfo]] = field(default_factory=dict)  # by class base


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _segments(text: str) -> list[tuple[str, str]]:
    """Split a module into top-level `function X`/`class X` segments (name, body)."""
    out: list[tuple[str, str]] = []
    name, buf = "", list[str]()
    for line in text.splitlines():
        m = re.match(r"^(?:function|class) (\w+)", line)
        if m:
            if name:
                out.append((name, "\n".join(buf)))
            name, buf = m.group(1), []
        buf.append(line)
    if name:
        out.append((name, "\n".join(buf)))
    return out


def _hcl_entries(body: str) -> dict[str, HclEntry]:
    start = body.find("const attrs = {")
    if start < 0:
        return {}
    entries: dict[str, HclEntry] = {}
    for m in _HCL_ENTRY.finditer(body, start):
        entries[m.group(1)] = HclEntry(
            is_block=m.group("block") == "true",
            kind=m.group("type"),
            storage=m.group("sct"),
            list_mapper="listMapperHcl(" in m.group("value"),
        )
    return entries


def _fields(body: str) -> dict[str, FieldInfo]:
    out: dict[str, FieldInfo] = {}
    lines = body.splitlines()
    for i, line in enumerate(lines):
        m = _COMMENT.match(line)
        if not m:
            continue
        code = "\n".join(lines[i + 1 : i + 4])
        out[m.group(1)] = FieldInfo(
            computed=m.group(2) == "true",
            optional=m.group(3) == "true",
            required=m.group(4) == "true",
            code=code,
        )
    return out


def parse_source(text: str) -> Source:
    """Index a binding module's HCL tables and attribute comments by class base name."""
    text = "\n".join(ln for ln in text.splitlines() if "sourceMappingURL" not in ln)
    main = re.search(
        r"^class (\w+) extends cdktn\.Terraform(?:Resource|DataSource|Provider)", text, re.M
    )
    if not main:
        raise ValueError("no resource, data source or provider class found")
    src = Source(main_class=main.group(1))
    for name, body in _segments(text):
        if name.endswith("ToHclTerraform"):
            src.hcl[name[: -len("ToHclTerraform")]] = _hcl_entries(body)
        elif name == src.main_class:
            hcl_at = body.find("synthesizeHclAttributes()")
            src.hcl[_lower_first(name)] = _hcl_entries(body[hcl_at:]) if hcl_at >= 0 else {}
            src.fields[name] = _fields(body)
        elif name.endswith("OutputReference"):
            src.fields[name[: -len("OutputReference")]] = _fields(body)
    return src


def _attr_type(entry: HclEntry) -> Any:
    """Terraform type (JSON form) of a non-block attribute from its HCL table entry."""
    sct = entry.storage
    if sct in _SCALARS:
        return _SCALARS[sct]
    if sct[:1].islower():  # stringList, numberMap, stringListList, ...
        if sct.endswith("List"):
            wrap = entry.kind if entry.kind in ("list", "set") else "list"
            return [wrap, _attr_type(HclEntry(False, "list", sct[: -len("List")], False))]
        if sct.endswith("Map"):
            return ["map", _attr_type(HclEntry(False, "map", sct[: -len("Map")], False))]
    raise ValueError(f"unsupported attribute storage type {sct!r}")


def _getter_type(src: Source, code: str) -> Any:
    """Terraform type of a computed-only attribute from the getter that reads it."""
    simple = {
        "getStringAttribute": "string",
        "getNumberAttribute": "number",
        "getBooleanAttribute": "bool",
        "getListAttribute": ["list", "string"],
        "getNumberListAttribute": ["list", "number"],
        "getStringMapAttribute": ["map", "string"],
        "getNumberMapAttribute": ["map", "number"],
        "getBooleanMapAttribute": ["map", "bool"],
        "interpolationForAttribute": "dynamic",
    }
    if "Fn.tolist(this.getListAttribute" in code:
        return ["set", "string"]
    for getter, tf_type in simple.items():
        if f"this.{getter}(" in code:
            return tf_type
    m = re.search(r"new (\w+?)(List|Map|OutputReference)\(this, \"\w+\"(?:, (true|false))?\)", code)
    if m:
        obj = ["object", _object_attrs(src, m.group(1))]
        if m.group(2) == "Map":
            return ["map", obj]
        if m.group(2) == "OutputReference":
            return ["list", obj]
        return ["set" if m.group(3) == "true" else "list", obj]
    raise ValueError(f"cannot type computed getter: {code.strip()[:120]}")


def _object_attrs(src: Source, base: str) -> dict[str, Any]:
    hcl = src.hcl.get(_lower_first(base), {})
    out: dict[str, Any] = {}
    for name, info in src.fields[base].items():
        entry = hcl.get(name)
        out[name] = (
            _attr_type(entry) if entry and not entry.is_block else _getter_type(src, info.code)
        )
    return out


def _block(src: Source, base: str, provider: bool = False) -> Json:
    """Rebuild one schema block (attributes and nested block types) for a class base name."""
    hcl = src.hcl.get(_lower_first(base), {})
    fields = src.fields.get(base)
    if fields is None:  # provider blocks have no OutputReference classes: all optional
        fields = {n: FieldInfo(False, True, False, "") for n in hcl}
    attributes: Json = {}
    block_types: Json = {}
    for name in sorted(set(fields) | set(hcl)):
        info = fields.get(name) or FieldInfo(False, True, False, "")
        entry = hcl.get(name)
        if entry and entry.is_block:
            block_types[name] = _nested_block(src, name, entry, info, provider)
            continue
        tf_type = _attr_type(entry) if entry else _getter_type(src, info.code)
        attr: Json = {"type": tf_type}
        if info.required:
            attr["required"] = True
        if info.optional:
            attr["optional"] = True
        if info.computed:
            attr["computed"] = True
        attributes[name] = attr
    block: Json = {}
    if attributes:
        block["attributes"] = attributes
    if block_types:
        block["block_types"] = block_types
    return block


def _nested_block(src: Source, name: str, entry: HclEntry, info: FieldInfo, provider: bool) -> Json:
    if entry.kind == "struct":
        child, nesting, max_one = entry.storage, "single", False
    else:
        child = entry.storage.removesuffix("List")
        nesting = entry.kind
        max_one = not entry.list_mapper or (provider and name in PROVIDER_MAX_ONE)
    out: Json = {"nesting_mode": nesting, "block": _block(src, child, provider)}
    if info.required and nesting != "single":
        out["min_items"] = 1
    if max_one and nesting != "single":
        out["max_items"] = 1
    return out


def schema_for(text: str, provider: bool = False) -> Json:
    """Schema (`{"version": 0, "block": ...}`) of one binding module."""
    src = parse_source(text)
    return {"version": 0, "block": _block(src, src.main_class, provider)}


def _module_dir(tf_type: str) -> str:
    if tf_type == "provider":
        return "provider"
    if tf_type.startswith("data."):
        return "data-" + tf_type.removeprefix("data.").replace("_", "-")
    return tf_type.removeprefix("aws_").replace("_", "-")


def read_modules(wheel: Path, names: list[str]) -> dict[str, str]:
    """Read `package/lib/<dir>/index.js` for each name from the jsii tarball in the wheel."""
    wanted = {f"package/lib/{_module_dir(n)}/index.js": n for n in names}
    found: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as zf:
        tgz = next(n for n in zf.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(zf.read(tgz)), mode="r:gz") as tf:
            for member in tf:
                if member.name in wanted:
                    fh = tf.extractfile(member)
                    if fh is not None:
                        found[wanted[member.name]] = fh.read().decode()
    missing = sorted(set(names) - set(found))
    if missing:
        raise SystemExit(f"not in the wheel: {', '.join(missing)}")
    for name, text in found.items():
        expected = "aws" if name == "provider" else name.removeprefix("data.")
        if f'static tfResourceType = "{expected}";' not in text:
            raise SystemExit(f"{name}: module does not declare tfResourceType {expected!r}")
    return found


def build(wheel: Path, names: list[str]) -> Json:
    """The whole schema document for the named types plus the provider configuration."""
    sources = read_modules(wheel, ["provider", *names])
    resources: Json = {}
    data_sources: Json = {}
    for name in sorted(names):
        if name.startswith("data."):
            data_sources[name.removeprefix("data.")] = schema_for(sources[name])
        else:
            resources[name] = schema_for(sources[name])
    return {
        "format_version": "1.0",
        "_generated_by": (
            f"tools/terraform/gen_schema.py from cdktn-provider-aws=={CDKTN_VERSION} "
            f"(hashicorp/aws {PROVIDER_VERSION}); do not edit by hand"
        ),
        "provider_schemas": {
            PROVIDER_ADDR: {
                "provider": schema_for(sources["provider"], provider=True),
                "resource_schemas": resources,
                "data_source_schemas": data_sources,
            }
        },
    }


def existing_names(path: Path) -> list[str]:
    """Types already in a generated schema file, in generator argument form."""
    if not path.exists():
        return []
    doc = json.loads(path.read_text())
    schemas = doc["provider_schemas"][PROVIDER_ADDR]
    return [*schemas["resource_schemas"], *(f"data.{n}" for n in schemas["data_source_schemas"])]


_TF_BLOCK = re.compile(r'^\s*(resource|data)\s+"(aws_\w+)"', re.M)


def used_types(*dirs: Path) -> list[str]:
    """aws_* resource and data source types declared in the .tf files under dirs."""
    found: set[str] = set()
    for d in dirs:
        for tf in d.rglob("*.tf"):
            if ".terraform" in tf.parts:
                continue
            for kind, name in _TF_BLOCK.findall(tf.read_text()):
                found.add(f"data.{name}" if kind == "data" else name)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, required=True, help="cdktn-provider-aws wheel")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--scan",
        type=Path,
        action="append",
        default=[],
        help="also add every aws_* type declared in .tf files under this directory",
    )
    parser.add_argument("--fresh", action="store_true", help="drop the types already in --out")
    parser.add_argument("types", nargs="*", help="aws_x resources and data.aws_y data sources")
    args = parser.parse_args(argv)
    kept = [] if args.fresh else existing_names(args.out)
    names = sorted({*kept, *args.types, *used_types(*args.scan)})
    if not names:
        parser.error("name at least one type (no existing schema to regenerate)")
    doc = build(args.wheel, names)
    args.out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}: {len(names)} types", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
