#!/usr/bin/env python3
"""The Helm chart (charts/eventworker) and the alert rules (deploy/prometheus).

  chart_test.py render   helm lint; helm template with the defaults equals
                         `kubectl kustomize manifests/` object for object (less
                         Helm's own labels); every value changes what values.yaml
                         says; the Prometheus Operator objects only with its API
  chart_test.py apply    helm template (defaults, then every value set) applied
                         with `kubectl apply --dry-run=server` to the kube-apiserver
                         of the ctest "servers" fixture (EW_TEST_ENV)
  chart_test.py rules    promtool check rules + promtool test rules
  chart_test.py dashboard  the Grafana dashboard: provisioning-ready, each query
                         valid PromQL on metrics the README documents (the
                         queries against real data: tests/e2e/observe_e2e_test)

Exit 77 (ctest: skipped) with the reason when helm, promtool or kubectl is
not built: `bash hack/build-servers.sh tools` builds helm and promtool.
"""
import copy
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
CHART = ROOT / "charts" / "eventworker"
RULES = ROOT / "deploy" / "prometheus"
NS = "eventworker-system"
SKIP = 77
# Labels and annotations Helm's chart adds to manifests/' objects.
HELM_LABELS = ("app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/version",
               "helm.sh/chart")
HELM_ANNOTATIONS = ("helm.sh/resource-policy",)


def versions():
    env = {}
    for line in (ROOT / "hack" / "versions.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


def cache():
    base = os.environ.get("EW_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "eventworker")
    return Path(base)


def tool(name):
    v = versions()
    where = {
        "helm": cache() / f"helm-v{v['HELM_VERSION']}" / "bin" / "helm",
        "promtool": cache() / f"prometheus-v{v['PROMETHEUS_VERSION']}" / "bin" / "promtool",
        "kubectl": cache() / f"kubernetes-v{v['K8S_VERSION']}" / "bin" / "kubectl",
    }[name]
    if not os.access(where, os.X_OK):
        print(f"SKIPPED: {name} is not built ({where}): bash hack/build-servers.sh "
              f"{'kube' if name == 'kubectl' else 'tools'}")
        sys.exit(SKIP)
    return str(where)


def run(cmd, check=True, stdin=None):
    p = subprocess.run(cmd, capture_output=True, text=True, input=stdin)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


class Failures:
    def __init__(self):
        self.count = 0

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            self.count += 1


def objects(text):
    return [o for o in yaml.safe_load_all(text) if o]


def key(o):
    return (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"])


def template(helm, values=None, extra=(), ns=NS):
    cmd = [helm, "template", "eventworker", str(CHART), "-n", ns, *extra]
    tmp = None
    if values is not None:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        yaml.safe_dump(values, tmp)
        tmp.close()
        cmd += ["-f", tmp.name]
    try:
        return run(cmd, check=False)
    finally:
        if tmp:
            os.unlink(tmp.name)


def render(helm, values=None, extra=()):
    p = template(helm, values, extra)
    if p.returncode != 0:
        raise AssertionError(f"helm template {values} failed:\n{p.stderr}")
    return {key(o): o for o in objects(p.stdout)}


def withoutHelm(o):
    o = copy.deepcopy(o)
    for meta in (o["metadata"], o.get("spec", {}).get("template", {}).get("metadata", {})):
        for field, names in (("labels", HELM_LABELS), ("annotations", HELM_ANNOTATIONS)):
            for n in names:
                meta.get(field, {}).pop(n, None)
            if field in meta and not meta[field]:
                del meta[field]
    return o


def deployment(objs):
    return objs[("Deployment", NS, "eventworker-operator")]


def container(objs):
    return deployment(objs)["spec"]["template"]["spec"]["containers"][0]


def testRender():
    helm, kubectl = tool("helm"), tool("kubectl")
    f = Failures()
    lint = run([helm, "lint", "--strict", str(CHART)], check=False)
    f.check(lint.returncode == 0, "helm lint --strict" + ("" if lint.returncode == 0 else ":\n" + lint.stdout))

    # 1. The defaults against manifests/.
    chart = render(helm)
    kust = {key(o): o for o in objects(run([kubectl, "kustomize", str(ROOT / "manifests")]).stdout)}
    f.check(("Namespace", "", NS) in kust, "manifests/ has the Namespace, which the chart leaves to the installer")
    kust.pop(("Namespace", "", NS), None)
    f.check(sorted(chart) == sorted(kust),
            f"same objects: chart {sorted(chart)} manifests {sorted(kust)}")
    for k in sorted(set(chart) & set(kust)):
        same = withoutHelm(chart[k]) == kust[k]
        detail = ""
        if not same:
            a = yaml.safe_dump(withoutHelm(chart[k]), sort_keys=True).splitlines(True)
            b = yaml.safe_dump(kust[k], sort_keys=True).splitlines(True)
            detail = "\n" + "".join(difflib.unified_diff(b, a, "manifests", "chart"))
        f.check(same, f"{'/'.join(x for x in k if x)} equals manifests/' (less Helm's labels){detail}")
    for k, o in chart.items():
        labels = o["metadata"].get("labels", {})
        f.check(all(n in labels for n in HELM_LABELS), f"{k[0]}/{k[2]} carries Helm's labels")
    crd = chart[("CustomResourceDefinition", "", "eventworkers.eventworker.dev")]
    f.check(crd["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep",
            "the CRD is kept on uninstall")

    # 2. Every value.
    cases = [
        ({"replicaCount": 3}, lambda o: deployment(o)["spec"]["replicas"] == 3, "replicaCount"),
        ({"replicaCount": 1, "leaderElection": {"enabled": False}},
         lambda o: "--leader-elect=false" in container(o)["args"]
         and ("Role", NS, "eventworker-operator-leader-election") not in o
         and not any(a.startswith("--lease-namespace") for a in container(o)["args"]),
         "leaderElection.enabled=false: flag, no Lease Role"),
        ({"image": {"repository": "registry.example/op", "tag": "1.2.3", "pullPolicy": "Always"}},
         lambda o: container(o)["image"] == "registry.example/op:1.2.3" and container(o)["imagePullPolicy"] == "Always",
         "image.*"),
        ({"runtimeImage": {"repository": "registry.example/rt", "tag": "4.5.6"}},
         lambda o: {"name": "EW_RUNTIME_IMAGE", "value": "registry.example/rt:4.5.6"} in container(o)["env"],
         "runtimeImage.*"),
        ({"imagePullSecrets": ["regcred"]},
         lambda o: deployment(o)["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}],
         "imagePullSecrets"),
        ({"logFormat": "text"}, lambda o: "--log-format=text" in container(o)["args"], "logFormat"),
        ({"watchNamespace": "shop"}, lambda o: "--namespace=shop" in container(o)["args"], "watchNamespace"),
        ({"workers": 4}, lambda o: "--workers=4" in container(o)["args"], "workers"),
        ({"autoscale": False}, lambda o: "--autoscale=false" in container(o)["args"], "autoscale"),
        ({"extraArgs": ["--lease-duration=30", "--resync-seconds=300"]},
         lambda o: container(o)["args"][-2:] == ["--lease-duration=30", "--resync-seconds=300"], "extraArgs"),
        ({"extraEnv": [{"name": "TZ", "value": "UTC"}]},
         lambda o: {"name": "TZ", "value": "UTC"} in container(o)["env"], "extraEnv"),
        ({"metricsPort": 9000},
         lambda o: "--metrics-address=0.0.0.0:9000" in container(o)["args"]
         and container(o)["ports"][0]["containerPort"] == 9000
         and o[("Service", NS, "eventworker-operator-metrics")]["spec"]["ports"][0]["port"] == 9000, "metricsPort"),
        ({"resources": {"requests": {"cpu": "50m"}}},
         lambda o: container(o)["resources"]["requests"]["cpu"] == "50m", "resources"),
        ({"commonLabels": {"team": "platform"}, "commonAnnotations": {"owner": "platform@example"}},
         lambda o: all(x["metadata"]["labels"].get("team") == "platform"
                       and x["metadata"].get("annotations", {}).get("owner") == "platform@example" for x in o.values()),
         "commonLabels, commonAnnotations on every object"),
        ({"podLabels": {"sidecar": "none"}, "podAnnotations": {"a": "b"}},
         lambda o: deployment(o)["spec"]["template"]["metadata"]["labels"].get("sidecar") == "none"
         and deployment(o)["spec"]["template"]["metadata"]["annotations"] == {"a": "b"}
         and deployment(o)["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "eventworker-operator"},
         "podLabels, podAnnotations (selector unchanged)"),
        ({"nodeSelector": {"role": "infra"}, "tolerations": [{"key": "infra", "operator": "Exists"}],
          "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
              {"matchExpressions": [{"key": "role", "operator": "In", "values": ["infra"]}]}]}}},
          "priorityClassName": "system-cluster-critical"},
         lambda o: (lambda s: s["nodeSelector"] == {"role": "infra"}
                    and s["tolerations"] == [{"key": "infra", "operator": "Exists"}]
                    and list(s["affinity"]) == ["nodeAffinity"]
                    and s["priorityClassName"] == "system-cluster-critical")(deployment(o)["spec"]["template"]["spec"]),
         "nodeSelector, tolerations, affinity, priorityClassName"),
        ({"installCRDs": False}, lambda o: not any(k[0] == "CustomResourceDefinition" for k in o), "installCRDs=false"),
        ({"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}, "podMonitor": {"enabled": True}},
         lambda o: not any(k[0] in ("ServiceMonitor", "PrometheusRule", "PodMonitor") for k in o),
         "serviceMonitor/prometheusRule/podMonitor enabled, no monitoring.coreos.com/v1: not rendered"),
        ({"grafanaDashboard": {"enabled": True}},
         lambda o: json.loads(o[("ConfigMap", NS, "eventworker-dashboard")]["data"]["eventworker.json"])
         == json.loads((ROOT / "deploy" / "grafana" / "eventworker.json").read_text())
         and o[("ConfigMap", NS, "eventworker-dashboard")]["metadata"]["labels"].get("grafana_dashboard") == "1",
         "grafanaDashboard.enabled: a ConfigMap holding deploy/grafana/eventworker.json, sidecar label"),
        ({"grafanaDashboard": {"enabled": True, "namespace": "monitoring", "labels": {"dashboards": "ew"}}},
         lambda o: o[("ConfigMap", "monitoring", "eventworker-dashboard")]["metadata"]["labels"].get("dashboards")
         == "ew", "grafanaDashboard.namespace, grafanaDashboard.labels"),
    ]
    for values, ok, what in cases:
        try:
            f.check(ok(render(helm, values)), what)
        except (AssertionError, KeyError, IndexError, TypeError) as e:
            f.check(False, f"{what}: {e!r}")

    mon = render(helm, {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
                        "prometheusRule": {"enabled": True, "labels": {"release": "prom"}},
                        "podMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prom"}}},
                 ["--api-versions", "monitoring.coreos.com/v1"])
    sm = mon.get(("ServiceMonitor", NS, "eventworker-operator"))
    f.check(sm is not None and sm["metadata"]["labels"].get("release") == "prom"
            and sm["spec"]["endpoints"][0]["port"] == "metrics" and sm["spec"]["endpoints"][0]["honorLabels"] is True,
            "ServiceMonitor with monitoring.coreos.com/v1, keeping the series' own namespace label")
    pm = mon.get(("PodMonitor", NS, "eventworker-workers"))
    f.check(pm is not None and pm["metadata"]["labels"].get("release") == "prom"
            and pm["spec"]["namespaceSelector"] == {"any": True}
            and pm["spec"]["selector"]["matchExpressions"] == [{"key": "eventworker.dev/name", "operator": "Exists"}]
            and pm["spec"]["podMetricsEndpoints"][0] == {"port": "metrics", "path": "/metrics", "interval": "15s"},
            "PodMonitor of the worker pods with monitoring.coreos.com/v1")
    pr = mon.get(("PrometheusRule", NS, "eventworker-operator"))
    rules = yaml.safe_load((RULES / "eventworker-rules.yaml").read_text())
    f.check(pr is not None and pr["spec"] == rules and pr["metadata"]["labels"].get("release") == "prom",
            "PrometheusRule with monitoring.coreos.com/v1 holds deploy/prometheus/eventworker-rules.yaml as is")

    # 3. Refused values, with the reason.
    for values, words in (({"replicaCount": 2, "leaderElection": {"enabled": False}}, "needs leaderElection.enabled"),
                          ({"logFormat": "xml"}, "logFormat")):
        p = template(helm, values)
        f.check(p.returncode != 0 and words in p.stderr, f"{values} refused: {p.stderr.strip()[-160:]}")
    return 1 if f.count else 0


def testApply():
    helm = tool("helm")
    envFile = os.environ.get("EW_TEST_ENV")
    if not envFile or not os.access(envFile, os.R_OK):
        print(f"test servers are not up: cannot read EW_TEST_ENV={envFile}", file=sys.stderr)
        return 1
    env = dict(line.split("=", 1) for line in Path(envFile).read_text().splitlines() if "=" in line)
    kubectl = [env["EW_KUBECTL"], "--kubeconfig", env["KUBECONFIG"]]
    f = Failures()
    ns = f"ew-chart-{os.getpid()}"
    run(kubectl + ["create", "namespace", ns])
    try:
        everything = {"replicaCount": 3, "image": {"tag": "1.2.3", "pullPolicy": "Always"},
                      "imagePullSecrets": ["regcred"], "logFormat": "text", "watchNamespace": "shop",
                      "workers": 4, "autoscale": False, "extraArgs": ["--lease-duration=30"],
                      "extraEnv": [{"name": "TZ", "value": "UTC"}], "metricsPort": 9000,
                      "commonLabels": {"team": "platform"}, "commonAnnotations": {"owner": "platform"},
                      "podLabels": {"tier": "control"}, "podAnnotations": {"a": "b"},
                      "nodeSelector": {"role": "infra"}, "tolerations": [{"key": "infra", "operator": "Exists"}],
                      "priorityClassName": "system-cluster-critical", "grafanaDashboard": {"enabled": True}}
        for what, values in (("defaults", None), ("every value set", everything)):
            p = template(helm, values, ns=ns)
            if p.returncode != 0:
                f.check(False, f"helm template ({what}): {p.stderr}")
                continue
            a = run(kubectl + ["apply", "--dry-run=server", "-f", "-"], check=False, stdin=p.stdout)
            if a.returncode != 0 and "AlreadyExists" in a.stderr:
                # kubectl apply reads each object, then creates (absent) or patches it. Tests
                # running beside this one install the CRD; when that lands between the read
                # and the dry-run create, the create is refused although the chart is fine.
                # The second attempt reads the CRD and patches it (no test deletes it).
                a = run(kubectl + ["apply", "--dry-run=server", "-f", "-"], check=False, stdin=p.stdout)
            warned = "Warning" in a.stderr
            f.check(a.returncode == 0 and not warned,
                    f"kubectl apply --dry-run=server ({what}): {len(objects(p.stdout))} objects"
                    + ("" if a.returncode == 0 and not warned else f"\n{a.stdout}{a.stderr}"))
    finally:
        run(kubectl + ["delete", "namespace", ns, "--wait=false"], check=False)
    return 1 if f.count else 0


def testRules():
    promtool = tool("promtool")
    f = Failures()
    c = run([promtool, "check", "rules", str(RULES / "eventworker-rules.yaml")], check=False)
    f.check(c.returncode == 0, "promtool check rules\n" + c.stdout + c.stderr)
    t = run([promtool, "test", "rules", str(RULES / "eventworker-rules_test.yaml")], check=False)
    f.check(t.returncode == 0, "promtool test rules\n" + t.stdout + t.stderr)
    # Each alert has a firing case (exp_alerts) and a quiet one (no exp_alerts).
    tests = yaml.safe_load((RULES / "eventworker-rules_test.yaml").read_text())["tests"]
    alerts = [r["alert"] for g in yaml.safe_load((RULES / "eventworker-rules.yaml").read_text())["groups"]
              for r in g["rules"] if "alert" in r]
    evals = [e for t in tests for e in t.get("alert_rule_test", [])]
    for a in alerts:
        firing = any(e["alertname"] == a and e.get("exp_alerts") for e in evals)
        quiet = any(e["alertname"] == a and not e.get("exp_alerts") for e in evals)
        f.check(firing and quiet, f"{a}: firing case {firing}, quiet case {quiet}")
    return 1 if f.count else 0


def dashboardQueries(dashboard):
    """(panel title, expr) of every target, rows' nested panels included."""
    out = []
    for p in dashboard["panels"]:
        for inner in [p] + p.get("panels", []):
            out += [(inner.get("title", ""), t["expr"]) for t in inner.get("targets", [])]
    return out


def testDashboard():
    """deploy/grafana/eventworker.json: provisioning-ready, every query valid
    PromQL (promtool parses each as a recording rule) on documented metrics."""
    promtool = tool("promtool")
    f = Failures()
    d = json.loads((ROOT / "deploy" / "grafana" / "eventworker.json").read_text())
    f.check(d.get("uid") == "eventworker" and "id" not in d, "a fixed uid and no id (file provisioning)")
    panels = [p for p in d["panels"] if p["type"] != "row"]
    f.check(len({p["id"] for p in d["panels"]}) == len(d["panels"]), "panel ids unique")
    f.check(all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for p in panels),
            "every panel on the datasource variable")
    queries = dashboardQueries(d)
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", readme, re.M))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query{i}", "expr": e.replace("$__rate_interval", "1m").replace("$namespace", ".*")}
        for i, (_, e) in enumerate(queries)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as tmp:
        yaml.safe_dump(rules, tmp)
    try:
        c = run([promtool, "check", "rules", tmp.name], check=False)
    finally:
        os.unlink(tmp.name)
    f.check(c.returncode == 0, f"{len(queries)} queries of {len(panels)} panels parse as PromQL"
            + ("" if c.returncode == 0 else "\n" + c.stdout + c.stderr))
    for title, e in queries:
        names = {m for m in re.findall(r"\b((?:eventworker|worker)_[a-z_]+)", e)}
        names = {re.sub(r"_(bucket|sum|count)$", "", n) if n.endswith(("_bucket", "_sum", "_count"))
                 and re.sub(r"_(bucket|sum|count)$", "", n) in documented else n for n in names}
        missing = sorted(n for n in names if n not in documented)
        f.check(not missing, f"panel {title!r}: metrics documented in README ({missing or 'all'})")
    return 1 if f.count else 0


if __name__ == "__main__":
    modes = {"render": testRender, "apply": testApply, "rules": testRules, "dashboard": testDashboard}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(modes[sys.argv[1]]())
