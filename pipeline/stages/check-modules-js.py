"""Stage 5 — check-modules-js: light structure checks on every cloned module.

For each module of website/data/modules.stage.4.json, looks at modules/<name>/ and appends
an issue when:

  main-file-missing      <name>.js is not at the top of the repository
  package-name-missing   package.json has no "name"
  package-name-mismatch  package.json "name" differs from the folder name
  readme-missing         there is no README at the top of the repository
  file-name              a file or folder name has spaces or unusual characters

A package.json that cannot be read was reported by the previous stage and is skipped here.

Reads  website/data/modules.stage.4.json, modules/
Writes website/data/modules.stage.5.json

Run from the repository root: python3 pipeline/stages/check-modules-js.py
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from functools import partial
from pathlib import Path

import stage_helpers  # beside this script (its folder is on sys.path)

STAGE = "check-modules-js"

fail = partial(stage_helpers.fail, STAGE)
read_json = partial(stage_helpers.read_json, STAGE)
write_json_atomic = stage_helpers.write_json_atomic

INPUT = Path("website/data/modules.stage.4.json")
CLONES = Path("modules")
OUTPUT = Path("website/data/modules.stage.5.json")

PORTABLE_NAME = re.compile(r"^[A-Za-z0-9._@+-]+$")
SKIPPED_FOLDERS = {".git", "node_modules"}
MAX_NAMES_SHOWN = 3





def load_modules() -> dict:
    data = read_json(INPUT)
    if not isinstance(data, dict) or not isinstance(data.get("modules"), list):
        fail(f"cannot read {INPUT}: no \"modules\" list")
    for index, module in enumerate(data["modules"]):
        if not isinstance(module, dict) or not isinstance(module.get("name"), str):
            fail(f"cannot read {INPUT}: modules[{index}] has no \"name\"")
        if not isinstance(module.get("issues"), list):
            fail(f"cannot read {INPUT}: modules[{index}] has no \"issues\" list")
    return data


def package_json(module_dir: Path) -> dict | None:
    """The parsed package.json object, or None when it is missing or unreadable."""
    try:
        data = json.loads((module_dir / "package.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_main_file(name: str, top_files: list[str], pkg: dict | None) -> str | None:
    expected = f"{name}.js"
    if expected in top_files:
        return None
    same_but_case = [f for f in top_files if f.lower() == expected.lower()]
    if same_but_case:
        return (f"main-file-missing: expected {expected} at the top of the repository; "
                f"found {same_but_case[0]}, which differs only in case")
    declared = pkg.get("main") if pkg else None
    if isinstance(declared, str) and declared.strip():
        return (f"main-file-missing: expected {expected} at the top of the repository; "
                f"package.json names \"{declared}\" instead")
    return f"main-file-missing: expected {expected} at the top of the repository"


def check_package_name(name: str, pkg: dict | None) -> str | None:
    if pkg is None:
        return None  # missing or invalid: already an issue from expand-module-list
    declared = pkg.get("name")
    if not isinstance(declared, str) or not declared.strip():
        return "package-name-missing: package.json has no \"name\""
    if declared != name:
        return (f"package-name-mismatch: package.json name \"{declared}\" does not match "
                f"the folder name \"{name}\"")
    return None


def check_file_names(module_dir: Path) -> str | None:
    odd = []
    for dirpath, dirnames, filenames in os.walk(module_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_FOLDERS)
        for entry in dirnames + sorted(filenames):
            if not PORTABLE_NAME.match(entry):
                odd.append(Path(dirpath, entry).relative_to(module_dir).as_posix())
    if not odd:
        return None
    odd.sort()
    shown = ", ".join(f"\"{name}\"" for name in odd[:MAX_NAMES_SHOWN])
    more = f" and {len(odd) - MAX_NAMES_SHOWN} more" if len(odd) > MAX_NAMES_SHOWN else ""
    return f"file-name: names with spaces or unusual characters: {shown}{more}"


def check_module(module: dict) -> list[str]:
    module_dir = CLONES / module["name"]
    if not module_dir.is_dir():
        return []  # reported by expand-module-list as clone-missing
    top_files = sorted(p.name for p in module_dir.iterdir() if p.is_file())
    pkg = package_json(module_dir)
    found = [
        check_main_file(module["name"], top_files, pkg),
        check_package_name(module["name"], pkg),
        None if any(f.lower().startswith("readme") for f in top_files)
        else "readme-missing: no README at the top of the repository",
        check_file_names(module_dir),
    ]
    return [issue for issue in found if issue]


def main() -> None:
    data = load_modules()
    if not CLONES.is_dir():
        fail(f"cannot read {CLONES}/: directory not found")
    kinds: Counter[str] = Counter()
    modules = []
    flagged = 0
    for module in data["modules"]:
        new = check_module(module)
        kinds.update(issue.split(":", 1)[0] for issue in new)
        flagged += bool(new)
        modules.append({**module, "issues": module["issues"] + new})
    write_json_atomic(OUTPUT, {**data, "modules": modules})

    print(f"{STAGE}: checked {len(modules)} modules; {sum(kinds.values())} new issues "
          f"on {flagged} modules")
    for kind in sorted(kinds):
        print(f"{STAGE}:   {kind}: {kinds[kind]}")
    print(f"{STAGE}: wrote {OUTPUT}")


if __name__ == "__main__":
    main()
