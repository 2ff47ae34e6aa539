#!/usr/bin/env python3
"""The values table of charts/eventworker/README.md, generated from values.yaml.

  gen-chart-docs.py           print the table (Markdown)
  gen-chart-docs.py --write   rewrite the generated block of the chart's README.md
  gen-chart-docs.py --check   exit 1, saying what to fix, when the README's block differs
                              from values.yaml, or a value has no `# --` description

A value is documented by the `# -- text` comment right above its key (more
lines of text may follow as `#   text`); its default is the value in
values.yaml. Keys that only group others (maps without a `# --` comment) get
no row. Needs Python 3 and PyYAML.
"""
import difflib
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "charts" / "eventworker"
BEGIN = "<!-- BEGIN GENERATED: chart-values -->"
END = "<!-- END GENERATED: chart-values -->"
FIX = "python3 hack/gen-chart-docs.py --write"
KEY = re.compile(r"^(\s*)([A-Za-z_][\w.-]*):(\s.*)?$")


def documented(text):
    """[(dotted key, description)] in file order; errors for undocumented leaves."""
    rows, errors, stack, doc = [], [], [], None
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("# -- "):
            doc = stripped[5:]
            continue
        if doc is not None and stripped.startswith("#   "):
            doc += " " + stripped[4:]
            continue
        m = KEY.match(line)
        if not m:
            if not stripped.startswith("#") and stripped:
                doc = None
            continue
        indent, key, rest = len(m.group(1)), m.group(2), (m.group(3) or "").strip()
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([k for _, k, _ in stack] + [key])
        inside = any(d for _, _, d in stack)  # part of a documented default
        if doc is not None and not inside:
            rows.append((path, doc))
        elif rest and not rest.startswith("#") and not inside:
            errors.append(f"values.yaml:{n}: {path} has no `# --` description")
        stack.append((indent, key, doc is not None))
        doc = None
    return rows, errors


def lookup(values, path):
    for part in path.split("."):
        values = values[part]
    return values


def table():
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    rows, errors = documented(text)
    out = ["| key | default | description |", "|---|---|---|"]
    for path, doc in rows:
        default = json.dumps(lookup(values, path), separators=(",", ":"))
        cell = doc.replace("|", r"\|")
        out.append(f"| `{path}` | `{default}` | {cell} |")
    return "\n".join(out) + "\n", errors


def main(argv):
    generated, errors = table()
    readme = CHART / "README.md"
    if len(argv) == 1:
        print(generated, end="")
        for e in errors:
            print(e, file=sys.stderr)
        return 1 if errors else 0
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        print(f"{readme}: the markers {BEGIN} and {END} are missing", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    current, tail = rest.split(END, 1)
    current = current.lstrip("\n")
    if argv[1] == "--write":
        readme.write_text(f"{head}{BEGIN}\n{generated}{END}{tail}")
        for e in errors:
            print(e, file=sys.stderr)
        return 1 if errors else 0
    if argv[1] != "--check":
        print(__doc__, file=sys.stderr)
        return 2
    for e in errors:
        print(e, file=sys.stderr)
    if current != generated:
        sys.stderr.writelines(difflib.unified_diff(
            current.splitlines(True), generated.splitlines(True), "README.md", "values.yaml"))
        print(f"the values table of {readme} is out of date: {FIX}", file=sys.stderr)
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
