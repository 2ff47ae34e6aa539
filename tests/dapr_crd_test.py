#!/usr/bin/env python3
"""crds/dapr.io_subscriptions.yaml (the Subscription CRD the tests install
when no Dapr control plane runs) against Dapr's own, of the release
hack/versions.env pins (charts/dapr/crds/subscription.yaml in the
github.com/dapr/dapr module, as hack/build-daprd.sh downloads it): the same
names, scope and versions (served, storage), and per version the same fields
with the same types, required lists and enums. The one difference allowed is
the conversion: Dapr's CRD converts v1alpha1 <-> v2alpha1 through the
operator's webhook (hack/dapr/install.sh installs Dapr's), ours has none.

Exit 0 same, 1 different (each difference printed), 77 skipped (the module is
not in the Go module cache: bash hack/build-daprd.sh downloads it).
"""
import os
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def dapr_version():
    with open(os.path.join(REPO, "hack", "versions.env")) as f:
        for line in f:
            if line.startswith("DAPR_VERSION="):
                return line.split("=", 1)[1].strip()
    sys.exit("no DAPR_VERSION in hack/versions.env")


def fields(schema, path=""):
    """{path: (type, required, enum)} of every property, item and map value."""
    out = {path or ".": (schema.get("type"), tuple(sorted(schema.get("required") or [])),
                         tuple(schema.get("enum") or []))}
    for name, sub in (schema.get("properties") or {}).items():
        out.update(fields(sub, f"{path}.{name}"))
    if isinstance(schema.get("items"), dict):
        out.update(fields(schema["items"], path + "[]"))
    if isinstance(schema.get("additionalProperties"), dict):
        out.update(fields(schema["additionalProperties"], path + "{}"))
    return out


def main():
    version = dapr_version()
    try:
        modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True,
                                  check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"SKIPPED: go env GOMODCACHE failed ({e})")
        return 77
    theirs_path = os.path.join(modcache, f"github.com/dapr/dapr@v{version}", "charts/dapr/crds/subscription.yaml")
    if not os.path.isfile(theirs_path):
        print(f"SKIPPED: Dapr v{version}'s module is not in the Go module cache ({theirs_path}); "
              "bash hack/build-daprd.sh downloads it")
        return 77
    with open(theirs_path) as f:
        theirs = yaml.safe_load(f)
    with open(os.path.join(REPO, "crds", "dapr.io_subscriptions.yaml")) as f:
        ours = yaml.safe_load(f)

    diffs = []
    for key in ("group", "scope", "names"):
        if theirs["spec"].get(key) != ours["spec"].get(key):
            diffs.append(f"spec.{key}: Dapr {theirs['spec'].get(key)!r}, ours {ours['spec'].get(key)!r}")
    tv = {v["name"]: v for v in theirs["spec"]["versions"]}
    ov = {v["name"]: v for v in ours["spec"]["versions"]}
    if sorted(tv) != sorted(ov):
        diffs.append(f"versions: Dapr {sorted(tv)}, ours {sorted(ov)}")
    for name in sorted(set(tv) & set(ov)):
        for key in ("served", "storage"):
            if tv[name].get(key) != ov[name].get(key):
                diffs.append(f"{name}.{key}: Dapr {tv[name].get(key)}, ours {ov[name].get(key)}")
        tf = fields(tv[name]["schema"]["openAPIV3Schema"])
        of = fields(ov[name]["schema"]["openAPIV3Schema"])
        for path in sorted(set(tf) | set(of)):
            if tf.get(path) != of.get(path):
                diffs.append(f"{name} {path}: Dapr (type, required, enum) {tf.get(path)}, ours {of.get(path)}")
        print(f"{name}: {len(tf)} fields compared")
    conversion = (theirs["spec"].get("conversion") or {}).get("strategy", "None")
    ours_conversion = (ours["spec"].get("conversion") or {}).get("strategy", "None")
    print(f"conversion: Dapr {conversion}, ours {ours_conversion} (the allowed difference)")
    for d in diffs:
        print("DIFFERENT:", d)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
