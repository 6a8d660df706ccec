"""Stage 3 — get-modules: "clone" every listed module into modules/<name>/.

Offline stand-in for cloning: the source of a module is the folder
fixtures/catalogue/modules/<name>/. When the previous run's copy, modules_temp/<name>/, is
identical to the source it is reused (copied from modules_temp/), as a real clone would be
refreshed instead of fetched again.

modules_temp/ is only read. Moving modules/ to modules_temp/ before this stage, removing
modules_temp/ after it succeeds and restoring it when it fails are the runner's job.

Reads  website/data/modules.stage.2.json, fixtures/catalogue/modules/, modules_temp/ (optional)
Writes modules/, website/data/modules.stage.3.json,
       website/data/skipped_modules.json (only when a module was skipped; removed otherwise)

Run from the repository root: python3 pipeline/stages/get-modules.py
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
from functools import partial
from pathlib import Path

import stage_helpers  # beside this script (its folder is on sys.path)

STAGE = "get-modules"

fail = partial(stage_helpers.fail, STAGE)
read_json = partial(stage_helpers.read_json, STAGE)
write_json_atomic = stage_helpers.write_json_atomic

INPUT = Path("website/data/modules.stage.2.json")
SOURCES = Path("fixtures/catalogue/modules")
PREVIOUS = Path("modules_temp")
CLONES = Path("modules")
OUTPUT = Path("website/data/modules.stage.3.json")
SKIPPED = Path("website/data/skipped_modules.json")

# Names become folder names; anything else could point outside modules/.
MODULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")





def load_modules() -> dict:
    data = read_json(INPUT)
    if not isinstance(data, dict) or not isinstance(data.get("modules"), list):
        fail(f"cannot read {INPUT}: no \"modules\" list")
    for index, module in enumerate(data["modules"]):
        for field in ("name", "id", "url"):
            if not isinstance(module, dict) or not isinstance(module.get(field), str):
                fail(f"cannot read {INPUT}: modules[{index}] has no \"{field}\"")
    return data


def tree_listing(root: Path) -> list[tuple[str, str]]:
    """(relative path, kind) of everything under root, sorted; links are never followed."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
            entries.append((path.relative_to(root).as_posix(), kind))
    return sorted(entries)


def same_tree(left: Path, right: Path) -> bool:
    """True when both trees hold the same names, link targets and file bytes."""
    listing = tree_listing(left)
    if listing != tree_listing(right):
        return False
    for relative, kind in listing:
        a, b = left / relative, right / relative
        if kind == "link" and os.readlink(a) != os.readlink(b):
            return False
        if kind == "file" and not filecmp.cmp(a, b, shallow=False):
            return False
    return True


def main() -> None:
    data = load_modules()
    if not SOURCES.is_dir():
        fail(f"cannot read {SOURCES}/: directory not found")

    if CLONES.is_symlink() or CLONES.is_file():
        CLONES.unlink()
    elif CLONES.exists():
        # Normally the runner has moved it to modules_temp/ already; a leftover is stale.
        print(f"{STAGE}: removing a leftover {CLONES}/ "
              f"(not moved to {PREVIOUS}/ before this stage)")
        shutil.rmtree(CLONES)
    CLONES.mkdir()

    cloned, skipped = [], []
    copied = reused = 0
    for module in data["modules"]:
        name = module["name"]
        source = SOURCES / name
        if not MODULE_NAME.match(name):
            reason = "the name cannot be used as a folder name"
        elif not source.is_dir() or source.is_symlink():
            reason = "the repository cannot be fetched: no source folder for this module"
        else:
            reason = None
        if reason:
            skipped.append({"name": name, "id": module["id"], "url": module["url"],
                            "reason": reason})
            continue
        previous = PREVIOUS / name
        if previous.is_dir() and not previous.is_symlink() and same_tree(source, previous):
            shutil.copytree(previous, CLONES / name, symlinks=True)
            reused += 1
        else:
            shutil.copytree(source, CLONES / name, symlinks=True)
            copied += 1
        cloned.append(module)

    write_json_atomic(OUTPUT, {**data, "modules": cloned})
    if skipped:
        write_json_atomic(SKIPPED, sorted(skipped, key=lambda s: (s["name"].lower(), s["name"])))
    elif SKIPPED.exists():
        SKIPPED.unlink()  # a list from an earlier run would be wrong now

    print(f"{STAGE}: {len(data['modules'])} modules listed; {len(cloned)} in {CLONES}/, "
          f"{len(skipped)} skipped")
    print(f"{STAGE}: {copied} copied from {SOURCES}/, {reused} reused from {PREVIOUS}/")
    for entry in skipped:
        print(f"{STAGE}:   skipped {entry['name']}: {entry['reason']}")
    print(f"{STAGE}: wrote {OUTPUT}" + (f" and {SKIPPED}" if skipped else ""))


if __name__ == "__main__":
    main()
