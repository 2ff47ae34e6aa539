#!/usr/bin/env python3
"""README's user reference, kept true to the code.

  gen-reference.py                    print the EventWorker reference (Markdown) generated from the CRD
  gen-reference.py --write README.md  rewrite the generated block of README.md in place
  gen-reference.py --check README.md  exit 1, saying what to fix, when README.md disagrees with the code:
    - the block between the BEGIN/END GENERATED markers differs from the CRD's reference;
    - its "## Metrics" tables miss a metric registered in operator/, worker-runtime/ or common/
      (non-test sources), list one no longer registered, or give another type;
    - its "## Troubleshooting" table misses a Degraded reason the operator sets, or lists one it
      no longer sets.

Metrics are found as registry calls with a literal name, `counter("name", ...)`,
`gauge(...)`, `histogram(...)`, `stateSet(...)` (a state set is exposed as gauge
lines, so it is documented as a gauge); Degraded reasons as the string literals the
operator's controller puts into a Degraded condition (see degraded_reasons()).
Needs Python 3 and PyYAML (Debian: python3-yaml).
"""
import difflib
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CRD = ROOT / "crds" / "eventworker.dev_eventworkers.yaml"
SOURCE_DIRS = ("operator", "worker-runtime", "common")
BEGIN = "<!-- BEGIN GENERATED: eventworker-reference -->"
END = "<!-- END GENERATED: eventworker-reference -->"
FIX = "python3 hack/gen-reference.py --write README.md"

# Patterns the CRD repeats, named for the reader; any other pattern is shown as is.
NAMED_PATTERNS = {
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": "a DNS label",
    r"^([0-9]+(ms|s|m|h))+$": "a duration (`200ms`, `30s`, `1m30s`)",
    r"^[^\s:]+:[0-9]{1,5}$": "`host:port`",
    r"^https?://([^\s/?#@:\[\]]+|\[[0-9A-Fa-f:.]+\])(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?#][^\s]*)?$":
        "an `http://` or `https://` URL: a host name or `[IPv6]`, an optional port 1-65535, no user info",
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$":
        "a Kubernetes quantity (`100m`, `128Mi`)",
}


# ---------------------------------------------------------------- Markdown helpers


def markdown(text: str, in_table: bool = True) -> str:
    """Text as one line of Markdown: `<` `>` escaped outside code spans, and in a
    table cell `|` escaped everywhere (GFM reads `\\|` as `|` even in a code span)."""
    parts = " ".join(str(text).split()).split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    out = "`".join(parts)
    return out.replace("|", "\\|") if in_table else out


def code(text) -> str:
    return f"`{text}`"


def flow(value) -> str:
    """A value in YAML flow style, as a user would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return str(value)


def table(header, rows) -> list:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(markdown(c) for c in r) + " |" for r in rows]
    return lines


# ---------------------------------------------------------------- the CRD


def storage_schema(crd: dict) -> dict:
    for v in crd["spec"]["versions"]:
        if v.get("storage"):
            return v["schema"]["openAPIV3Schema"]
    raise SystemExit(f"{CRD}: no storage version")


def type_of(s: dict) -> str:
    if s.get("x-kubernetes-int-or-string"):
        return "int-or-string"
    t = s.get("type", "any")
    if t == "array":
        return "[]" + type_of(s.get("items", {}))
    if t == "object" and "additionalProperties" in s and "properties" not in s:
        return "map[string]" + type_of(s["additionalProperties"])
    if s.get("format") == "date-time":
        return "string (date-time)"
    return t


def pattern(p: str) -> str:
    return NAMED_PATTERNS.get(p) or code(p)


def value_constraints(s: dict, prefix: str = "") -> list:
    """Constraints on one value (a field, or each item or map value)."""
    out = []
    if "enum" in s:
        out.append(prefix + "one of " + ", ".join(code(flow(v)) for v in s["enum"]))
    out += bounds(s, "minimum", "maximum", prefix)
    out += bounds(s, "minLength", "maxLength", prefix, " chars")
    if "pattern" in s:
        out.append(prefix + "matches " + pattern(s["pattern"]))
    return out


def bounds(s: dict, low: str, high: str, prefix: str, unit: str = "") -> list:
    lo, hi = s.get(low), s.get(high)
    if lo is not None and hi is not None:
        return [f"{prefix}{lo}..{hi}{unit}"]
    if lo is not None:
        return [f"{prefix}at least {lo}{unit}"]
    if hi is not None:
        return [f"{prefix}at most {hi}{unit}"]
    return []


def constraints(s: dict, required: bool) -> str:
    out = ["**required**"] if required else []
    out += value_constraints(s)
    out += bounds(s, "minItems", "maxItems", "", " items")
    if "maxProperties" in s:
        out.append(f"at most {s['maxProperties']} keys")
    if s.get("x-kubernetes-list-type") == "map":
        out.append("unique " + ", ".join(code(k) for k in s.get("x-kubernetes-list-map-keys", [])))
    if s.get("type") == "array" and s.get("items", {}).get("type") != "object":
        out += value_constraints(s.get("items", {}), "each ")
    if "additionalProperties" in s and isinstance(s["additionalProperties"], dict):
        out += value_constraints(s["additionalProperties"], "each value ")
    return "; ".join(out)


def walk(path: str, s: dict, required: bool, fields: list, rules: list):
    """Appends (path, schema, required) for `path` and its descendants, and their CEL rules."""
    fields.append((path, s, required))
    collect_rules(path, s, rules)
    body, prefix = s, path
    if s.get("type") == "array" and s.get("items", {}).get("type") == "object":
        body, prefix = s["items"], path + "[]"
        collect_rules(prefix, body, rules)
    for name, child in body.get("properties", {}).items():
        walk(f"{prefix}.{name}", child, name in body.get("required", []), fields, rules)


def spec_row(path: str, s: dict, required: bool) -> list:
    return [code(path), code(type_of(s)), code(flow(s["default"])) if "default" in s else "",
            constraints(s, required), s.get("description", "")]


def status_row(path: str, s: dict, required: bool) -> list:
    values = (" One of " + ", ".join(code(flow(v)) for v in s["enum"]) + ".") if "enum" in s else ""
    return [code(path), code(type_of(s)), s.get("description", "") + values]


def collect_rules(path: str, s: dict, rules: list):
    for r in s.get("x-kubernetes-validations", []):
        field = r.get("fieldPath", "")
        at = path + field if field.startswith(".") else path
        rules.append((at.lstrip(".") or "(the resource)", r["message"]))


def reference(crd: dict) -> str:
    root = storage_schema(crd)
    spec = root["properties"]["spec"]
    out = [f"Generated from `{CRD.relative_to(ROOT)}` (group `{crd['spec']['group']}`, "
           f"version `{next(v['name'] for v in crd['spec']['versions'] if v.get('storage'))}`, "
           f"kind `{crd['spec']['names']['kind']}`, short name "
           + ", ".join(code(n) for n in crd["spec"]["names"].get("shortNames", [])) + "). "
           "Defaults are applied by the API server (and by `eventworker validate`).", ""]
    header = ["field", "type", "default", "constraints", "description"]
    rules = []
    collect_rules("", root, rules)
    collect_rules("spec", spec, rules)
    scalars = []
    for name, child in spec["properties"].items():
        if child.get("type") not in ("object", "array"):
            walk(f"spec.{name}", child, name in spec.get("required", []), scalars, rules)
    out += ["### spec", ""] + table(header, [spec_row(*f) for f in scalars]) + [""]
    for name, child in spec["properties"].items():
        if child.get("type") in ("object", "array"):
            fields = []
            walk(f"spec.{name}", child, name in spec.get("required", []), fields, rules)
            title = f"spec.{name}[]" if child.get("type") == "array" else f"spec.{name}"
            out += [f"### {title}", ""] + table(header, [spec_row(*f) for f in fields]) + [""]

    out += ["### Cross-field rules", "",
            "Checked by the API server (CEL `x-kubernetes-validations`) and by `eventworker validate`:", ""]
    for at, message in rules:
        out.append(f"- {code(at)}: {markdown(message, in_table=False)}")
    out.append("")

    status = root["properties"]["status"]
    fields = []
    for name, child in status["properties"].items():
        walk(f"status.{name}", child, False, fields, [])
    out += ["### status", "", markdown(status.get("description", ""), in_table=False), ""]
    out += table(["field", "type", "description"], [status_row(*f) for f in fields])
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- what the code registers and sets


def sources():
    for d in SOURCE_DIRS:
        for p in sorted((ROOT / d).rglob("*")):
            if p.suffix in (".cpp", ".h") and not p.stem.endswith("_test"):
                yield p


REGISTRATION = re.compile(r'\b(counter|gauge|histogram|stateSet)\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"')
EXPOSED_AS = {"stateSet": "gauge"}  # the type line a registry call renders


def registered_metrics() -> dict:
    """name -> (type, first file registering it)."""
    found = {}
    for p in sources():
        for kind, name in REGISTRATION.findall(p.read_text()):
            found.setdefault(name, (EXPOSED_AS.get(kind, kind), str(p.relative_to(ROOT))))
    return found


def section(readme: str, title: str) -> str:
    """The text of the `## title...` section (up to the next `## `), or ''."""
    m = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    return m.group(1) if m else ""


def documented_metrics(readme: str) -> dict:
    """name -> type from the Metrics section's table rows: | `name` | type | labels | meaning |."""
    rows = re.findall(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*([a-z]+)\s*\|", section(readme, "Metrics"), re.M)
    return dict(rows)


# Where the operator decides a Degraded reason: condition("Degraded", true, "X", ...)
# (or make(...), desired_state.cpp's ConditionMaker),
# a StatusInputs::degraded pair, a `reason` variable handed to it, and the
# invalid-spec branch (`invalidReason ? "X"`), and the pods' reasons
# (`degradedReason("X")`).
DEGRADED = [
    re.compile(r'\b(?:condition|make)\(\s*"Degraded",\s*true,\s*"([A-Za-z]+)"'),
    re.compile(r'degraded\s*=\s*std::make_pair\(\s*(?:std::string\()?"([A-Za-z]+)"'),
    re.compile(r'\breason\s*=\s*"([A-Za-z]+)"'),
    re.compile(r'invalidReason\s*\?\s*"([A-Za-z]+)"'),
    re.compile(r'\breportDegraded\(\s*\w+,\s*"([A-Za-z]+)"'),
    # The kubelet's reasons a failing pod passes on (controller/pod_health.cpp).
    re.compile(r'degradedReason\(\s*"([A-Za-z]+)"\s*\)'),
]


def degraded_reasons() -> dict:
    """reason -> first file setting it, from the operator's controller."""
    found = {}
    for p in sources():
        if p.parts[len(ROOT.parts):len(ROOT.parts) + 2] != ("operator", "controller"):
            continue
        text = p.read_text()
        for rx in DEGRADED:
            for reason in rx.findall(text):
                found.setdefault(reason, str(p.relative_to(ROOT)))
    return found


def documented_reasons(readme: str) -> set:
    return set(re.findall(r"^\|\s*`([A-Za-z]+)`\s*\|", section(readme, "Troubleshooting"), re.M))


# ---------------------------------------------------------------- main


def split_readme(text: str, name: str):
    b, e = text.find(BEGIN), text.find(END)
    if b < 0 or e < b:
        raise SystemExit(f"{name}: no block between '{BEGIN}' and '{END}'")
    b += len(BEGIN)
    return text[:b], text[b:e], text[e:]


def check(readme_path: Path, generated: str) -> int:
    text = readme_path.read_text()
    _, current, _ = split_readme(text, str(readme_path))
    problems = []
    want = "\n" + generated
    if current != want:
        diff = difflib.unified_diff(current.splitlines(True), want.splitlines(True),
                                    f"{readme_path} (generated block)", "crds/ (regenerated)")
        problems.append("the EventWorker reference is stale:\n" + "".join(diff)
                        + f"fix: {FIX}")

    registered, documented = registered_metrics(), documented_metrics(text)
    if not documented:
        problems.append(f"{readme_path}: no '## Metrics' section with | `name` | type | ... rows")
    for name, (kind, where) in sorted(registered.items()):
        if name not in documented:
            problems.append(f"metric {name} ({kind}, {where}) is missing from the Metrics section of {readme_path}")
        elif documented[name] != kind:
            problems.append(f"metric {name} is a {kind} ({where}) but {readme_path} says {documented[name]}")
    for name in sorted(set(documented) - set(registered)):
        problems.append(f"metric {name} is in the Metrics section of {readme_path} but no longer registered")

    emitted, listed = degraded_reasons(), documented_reasons(text)
    for reason, where in sorted(emitted.items()):
        if reason not in listed:
            problems.append(f"Degraded reason {reason} ({where}) is missing from the Troubleshooting table "
                            f"of {readme_path}")
    for reason in sorted(listed - set(emitted)):
        problems.append(f"Degraded reason {reason} is in the Troubleshooting table of {readme_path} "
                        "but the operator no longer sets it")

    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


def main(argv) -> int:
    generated = reference(yaml.safe_load(CRD.read_text()))
    if not argv:
        sys.stdout.write(generated)
        return 0
    if len(argv) != 2 or argv[0] not in ("--check", "--write"):
        print(__doc__, file=sys.stderr)
        return 2
    readme_path = Path(argv[1])
    if argv[0] == "--check":
        return check(readme_path, generated)
    head, _, tail = split_readme(readme_path.read_text(), argv[1])
    readme_path.write_text(head + "\n" + generated + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
