#!/usr/bin/env python3
"""Fails when an #include crosses between the two halves (DESIGN.md section 3).

operator/ and worker-runtime/ include their own headers and common/'s (ew/...),
never each other's; tests/ may include both. The link check is in the
top-level CMakeLists.txt (configure time); this one catches a header-only
reach that no link would reveal.

Usage: hack/check-layering.py REPO_DIR
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def top_dirs(root: pathlib.Path) -> set:
    return {p.name for p in root.iterdir() if p.is_dir()}


def main() -> int:
    repo = pathlib.Path(sys.argv[1])
    halves = {"operator": repo / "operator", "worker-runtime": repo / "worker-runtime"}
    own = {name: top_dirs(path) for name, path in halves.items()}
    common = {"ew"}
    failures = []
    for name, path in halves.items():
        foreign = set().union(*(own[o] for o in own if o != name)) - own[name] - common
        for f in sorted(path.rglob("*")):
            if f.suffix not in (".h", ".cpp", ".hpp"):
                continue
            for inc in INCLUDE.findall(f.read_text(errors="replace")):
                first = inc.split("/", 1)[0]
                if "/" in inc and first in foreign:
                    failures.append(f"{f.relative_to(repo)}: includes \"{inc}\" from the other half")
    for line in failures:
        print(line)
    if failures:
        print(f"{len(failures)} include(s) cross between operator/ and worker-runtime/; move what both need to common/")
        return 1
    print(f"layering: no include crosses between {', '.join(halves)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
