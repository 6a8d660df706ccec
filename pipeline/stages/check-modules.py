"""Stage 6 — check-modules: deeper checks, then publish the catalogue and the report.

Appends an issue to a module when:

  dependency-deprecated    package.json depends on a deprecated package (e.g. request)
  dependency-git-protocol  a dependency is fetched over git://, which hosts no longer serve
  dependency-unpinned      a dependency asks for "*", "latest" or an empty version
  license-missing          neither package.json nor the repository host names a license
  repository-archived      the repository host reports the repository as archived
  repository-stale         the last commit is more than two years older than the repository
                           data (repositoryDataAsOf), the fixed reference date: never "now"

then writes
  website/data/modules.json      the final catalogue
  website/data/modules.min.json  the same modules with fewer fields, without whitespace
  website/data/stats.json        counts per category and per issue kind
  website/result.md              the report for people

Reads  website/data/modules.stage.5.json, modules/,
       website/data/skipped_modules.json (optional: absent means nothing was skipped)

Run from the repository root: python3 pipeline/stages/check-modules.py
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import stage_helpers  # beside this script (its folder is on sys.path)

STAGE = "check-modules"

fail = partial(stage_helpers.fail, STAGE)
read_json = partial(stage_helpers.read_json, STAGE)
write_text_atomic = stage_helpers.write_text_atomic
pretty_json = stage_helpers.pretty_json

INPUT = Path("website/data/modules.stage.5.json")
SKIPPED = Path("website/data/skipped_modules.json")
CLONES = Path("modules")
CATALOGUE = Path("website/data/modules.json")
CATALOGUE_MIN = Path("website/data/modules.min.json")
STATS = Path("website/data/stats.json")
REPORT = Path("website/result.md")

STALE_AFTER = timedelta(days=730)
DEPENDENCY_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies",
                       "peerDependencies")
DEPRECATED_PACKAGES = {
    "electron-rebuild": "renamed to @electron/rebuild",
    "node-sass": "deprecated; use sass",
    "request": "deprecated since 2020; use the built-in fetch",
    "request-promise": "deprecated along with request; use the built-in fetch",
    "request-promise-native": "deprecated along with request; use the built-in fetch",
}
UNPINNED_VERSIONS = {"", "*", "latest", "x"}






def parse_time(text: str) -> datetime:
    # fromisoformat accepts "Z" only from Python 3.11 on.
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def load_modules() -> tuple[dict, datetime]:
    data = read_json(INPUT)
    if not isinstance(data, dict) or not isinstance(data.get("modules"), list):
        fail(f"cannot read {INPUT}: no \"modules\" list")
    try:
        reference = parse_time(data["repositoryDataAsOf"])
    except (KeyError, TypeError, ValueError):
        fail(f"cannot read {INPUT}: \"repositoryDataAsOf\" is missing or not an ISO date-time")
    for index, module in enumerate(data["modules"]):
        for field in ("name", "id", "url", "category"):
            if not isinstance(module, dict) or not isinstance(module.get(field), str):
                fail(f"cannot read {INPUT}: modules[{index}] has no \"{field}\"")
        if not isinstance(module.get("issues"), list):
            fail(f"cannot read {INPUT}: modules[{index}] has no \"issues\" list")
    return data, reference


def load_skipped() -> list[dict]:
    if not SKIPPED.exists():
        return []
    skipped = read_json(SKIPPED)
    if not isinstance(skipped, list) or not all(
            isinstance(s, dict) and isinstance(s.get("name"), str) for s in skipped):
        fail(f"cannot read {SKIPPED}: expected a list of skipped modules")
    return skipped


def package_json(module_dir: Path) -> dict | None:
    try:
        data = json.loads((module_dir / "package.json").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None  # missing or invalid: already an issue from expand-module-list
    return data if isinstance(data, dict) else None


def dependency_issues(pkg: dict | None) -> list[str]:
    issues = []
    for section in DEPENDENCY_SECTIONS:
        dependencies = pkg.get(section) if pkg else None
        if not isinstance(dependencies, dict):
            continue
        for name in sorted(dependencies):
            spec = dependencies[name]
            spec = spec.strip() if isinstance(spec, str) else ""
            if name in DEPRECATED_PACKAGES:
                issues.append(f"dependency-deprecated: {section} \"{name}\": "
                              f"{DEPRECATED_PACKAGES[name]}")
            if spec.startswith(("git://", "git+git://")):
                issues.append(f"dependency-git-protocol: {section} \"{name}\" is fetched over "
                              f"git://, which repository hosts no longer serve; use https or a "
                              f"published version")
            elif spec.lower() in UNPINNED_VERSIONS:
                issues.append(f"dependency-unpinned: {section} \"{name}\" asks for "
                              f"\"{spec}\"; name a version range")
    return issues


def repository_issues(repository: dict | None, reference: datetime) -> list[str]:
    if not isinstance(repository, dict):
        return []  # no data: already an issue from update-repository-data
    issues = []
    if repository.get("archived") is True:
        issues.append("repository-archived: the repository is archived and accepts no changes")
    last_commit = repository.get("lastCommit")
    if isinstance(last_commit, str):
        try:
            age = reference - parse_time(last_commit)
        except ValueError:
            age = None
        if age is not None and age > STALE_AFTER:
            issues.append(f"repository-stale: last commit on {last_commit[:10]}, more than two "
                          f"years before the repository data of {reference.date().isoformat()}")
    return issues


def check_module(module: dict, reference: datetime) -> list[str]:
    issues = dependency_issues(package_json(CLONES / module["name"]))
    if module.get("license") is None:
        issues.append("license-missing: no license in package.json, and the repository host "
                      "reports none")
    return issues + repository_issues(module.get("repository"), reference)


def issue_kind(issue: str) -> str:
    return issue.split(":", 1)[0]


def minimal(module: dict) -> dict:
    repository = module.get("repository") or {}
    images = module.get("images") or []
    return {
        "id": module["id"],
        "name": module["name"],
        "url": module["url"],
        "maintainer": module.get("maintainer", ""),
        "description": module.get("description", ""),
        "category": module["category"],
        "keywords": module.get("keywords", []),
        "license": module.get("license"),
        "stars": repository.get("stars"),
        "lastCommit": repository.get("lastCommit"),
        "image": images[0] if images else None,
        "issueCount": len(module["issues"]),
    }


def statistics(data: dict, skipped: list[dict]) -> dict:
    modules = data["modules"]
    categories: dict[str, dict[str, int]] = {}
    for module in modules:
        entry = categories.setdefault(module["category"], {"modules": 0, "withIssues": 0})
        entry["modules"] += 1
        entry["withIssues"] += bool(module["issues"])
    kinds = Counter(issue_kind(issue) for module in modules for issue in module["issues"])
    with_issues = sum(1 for module in modules if module["issues"])
    return {
        "repositoryDataAsOf": data["repositoryDataAsOf"],
        "modules": len(modules),
        "modulesWithIssues": with_issues,
        "modulesWithoutIssues": len(modules) - with_issues,
        "skippedModules": len(skipped),
        "issues": sum(kinds.values()),
        "categories": categories,
        "issueKinds": dict(kinds),
    }


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def report(data: dict, stats: dict, skipped: list[dict]) -> str:
    modules = data["modules"]
    lines = [
        "# Module check results",
        "",
        f"Repository data as of {data['repositoryDataAsOf']}.",
        "",
        "## Summary",
        "",
        "| What | Count |",
        "| ---- | ----: |",
        f"| Modules listed | {stats['modules'] + stats['skippedModules']} |",
        f"| Modules checked | {stats['modules']} |",
        f"| Modules skipped (could not be fetched) | {stats['skippedModules']} |",
        f"| Modules with issues | {stats['modulesWithIssues']} |",
        f"| Modules without issues | {stats['modulesWithoutIssues']} |",
        f"| Issues | {stats['issues']} |",
        "",
        "### By category",
        "",
        "| Category | Modules | With issues |",
        "| -------- | ------: | ----------: |",
    ]
    for name in sorted(stats["categories"]):
        entry = stats["categories"][name]
        lines.append(f"| {cell(name)} | {entry['modules']} | {entry['withIssues']} |")
    lines += ["", "### By issue kind", ""]
    if stats["issueKinds"]:
        lines += ["| Issue kind | Issues |", "| ---------- | -----: |"]
        lines += [f"| `{kind}` | {count} |" for kind, count in sorted(stats["issueKinds"].items())]
    else:
        lines.append("No issues found.")

    lines += ["", "## Modules", "",
              "| Module | Category | Maintainer | License | Issues |",
              "| ------ | -------- | ---------- | ------- | -----: |"]
    for module in modules:
        lines.append(f"| [{cell(module['name'])}]({module['url']}) | {cell(module['category'])} "
                     f"| {cell(module.get('maintainer', ''))} "
                     f"| {cell(module.get('license') or '—')} | {len(module['issues'])} |")

    lines += ["", "## Issues per module", ""]
    flagged = [module for module in modules if module["issues"]]
    if not flagged:
        lines.append("No module has issues.")
    for module in flagged:
        lines += [f"### {module['name']}", "", f"<{module['url']}>", ""]
        for issue in module["issues"]:
            kind, _, message = issue.partition(": ")
            lines.append(f"- `{kind}` {message}")
        lines.append("")
    if skipped:
        if lines[-1] != "":
            lines.append("")
        lines += ["## Skipped modules", "",
                  "| Module | Reason |", "| ------ | ------ |"]
        for entry in sorted(skipped, key=lambda s: (s["name"].lower(), s["name"])):
            name = cell(entry["name"])
            link = f"[{name}]({entry['url']})" if isinstance(entry.get("url"), str) else name
            lines.append(f"| {link} | {cell(entry.get('reason', ''))} |")
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def main() -> None:
    data, reference = load_modules()
    skipped = load_skipped()
    if not CLONES.is_dir():
        fail(f"cannot read {CLONES}/: directory not found")

    kinds: Counter[str] = Counter()
    modules = []
    for module in data["modules"]:
        new = check_module(module, reference)
        kinds.update(issue_kind(issue) for issue in new)
        modules.append({**module, "issues": module["issues"] + new})
    data = {**data, "modules": modules}
    stats = statistics(data, skipped)

    minified = {"repositoryDataAsOf": data["repositoryDataAsOf"],
                "modules": [minimal(module) for module in modules]}
    write_text_atomic(CATALOGUE, pretty_json(data))
    write_text_atomic(CATALOGUE_MIN, json.dumps(minified, sort_keys=True, ensure_ascii=False,
                                                separators=(",", ":")) + "\n")
    write_text_atomic(STATS, pretty_json(stats))
    write_text_atomic(REPORT, report(data, stats, skipped))

    print(f"{STAGE}: checked {len(modules)} modules against the repository data of "
          f"{reference.date().isoformat()}; {sum(kinds.values())} new issues")
    for kind in sorted(kinds):
        print(f"{STAGE}:   {kind}: {kinds[kind]}")
    print(f"{STAGE}: {stats['modulesWithIssues']} of {stats['modules']} modules have issues "
          f"({stats['issues']} in all); {stats['skippedModules']} modules were skipped earlier")
    print(f"{STAGE}: wrote {CATALOGUE}, {CATALOGUE_MIN}, {STATS} and {REPORT}")


if __name__ == "__main__":
    main()
