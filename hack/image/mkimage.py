#!/usr/bin/env python3
"""Writes a single-layer docker-archive image (what `docker save` writes and
`ctr images import`, `podman load` and `docker load` read) from files of this
machine, with no container tool.

  mkimage.py --ref REF --output OUT.tar [--entrypoint PATH] [--user UID:GID]
             [--env K=V]... [--label K=V]... [--bare] SRC:DEST...

Without --entrypoint the image has none: the pod's command names the program
(Dapr's images: the injector runs the sidecar with args ["/daprd", ...] and
no command, which an entrypoint would turn into daprd's first argument).

Each SRC is put at DEST in the image. An ELF SRC goes in stripped
(objcopy --strip-all), with every shared library `ldd SRC` lists, at the path
ldd prints (symlinks resolved into real files there, where the loader looks),
and the dynamic loader. Unless --bare, the image also gets /etc/passwd and
/etc/group (root and nonroot 65532:65532), /etc/nsswitch.conf (hosts: files
dns), this machine's /etc/ssl/certs/ca-certificates.crt and an empty /tmp
(mode 1777).

Deterministic: the same inputs give the same bytes (mtimes 0, owner 0:0,
entries sorted, uncompressed). OUT.inputs beside OUT keeps the sha256 of the
inputs (this script, the arguments, every file's content) and the unpacked
size; when the inputs are the same, OUT is left as it is. Prints one line: the image, the archive's size and the
unpacked size. Exit 1 with the reason on a missing file or a library ldd
cannot find.
"""
import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

EPOCH = "1970-01-01T00:00:00Z"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
SYSTEM_FILES = {
    "/etc/passwd": b"root:x:0:0:root:/root:/sbin/nologin\n"
                   b"nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n",
    "/etc/group": b"root:x:0:\nnonroot:x:65532:\n",
    "/etc/nsswitch.conf": b"hosts: files dns\n",
}
# ldd lines: "libx.so.1 => /path/libx.so.1 (0x..)", "libx.so.1 => not found",
# "/lib64/ld-linux-x86-64.so.2 (0x..)", "linux-vdso.so.1 (0x..)".
LDD_LIB = re.compile(r"^\s*(\S+) => (.*?)(?: \(0x[0-9a-f]+\))?$")
LDD_LOADER = re.compile(r"^\s*(/\S+) \(0x[0-9a-f]+\)$")


class Failure(Exception):
    pass


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def shared_libraries(binary):
    """{image path: host path} of the libraries and loader BINARY needs."""
    run = subprocess.run(["ldd", binary], capture_output=True, text=True)
    out = run.stdout + run.stderr
    if "not a dynamic executable" in out or "statically linked" in out:
        return {}
    if run.returncode != 0:
        raise Failure(f"ldd {binary} failed: {out.strip()}")
    libs, missing = {}, []
    for line in run.stdout.splitlines():
        if m := LDD_LIB.match(line):
            name, where = m.groups()
            if where == "not found":
                missing.append(name)
            elif where.startswith("/"):
                libs[where] = os.path.realpath(where)
        elif m := LDD_LOADER.match(line):
            libs[m.group(1)] = os.path.realpath(m.group(1))
    if missing:
        raise Failure(f"{binary}: ldd finds no {', '.join(missing)}")
    return libs


class Entry:
    """One regular file of the layer: from a host path, or given bytes."""

    def __init__(self, mode, host=None, data=None, strip=False):
        self.mode, self.host, self.data, self.strip = mode, host, data, strip

    def digest(self):
        h = hashlib.sha256(f"{self.mode:o} {self.strip} {self.host}\0".encode())
        if self.data is not None:
            h.update(self.data)
        else:
            with open(self.host, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        return h.hexdigest()

    def content(self, scratch):
        if self.data is not None:
            return self.data
        path = self.host
        if self.strip:
            path = os.path.join(scratch, "stripped")
            run = subprocess.run(["objcopy", "--strip-all", self.host, path], capture_output=True, text=True)
            if run.returncode != 0:
                raise Failure(f"objcopy --strip-all {self.host}: {run.stderr.strip()}")
        with open(path, "rb") as f:
            return f.read()


def collect(specs, bare):
    """{image path: Entry} for the SRC:DEST specs (and the system files)."""
    files = {}
    for spec in specs:
        src, sep, dest = spec.partition(":")
        if not sep or not dest.startswith("/"):
            raise Failure(f"'{spec}': want SRC:DEST with an absolute DEST")
        if not os.path.isfile(src):
            raise Failure(f"{src}: no such file")
        mode = 0o755 if os.access(src, os.X_OK) else 0o644
        if is_elf(src):
            files[dest] = Entry(mode, host=src, strip=True)
            for lib, real in shared_libraries(src).items():
                files.setdefault(lib, Entry(0o755, host=real))
        else:
            files[dest] = Entry(mode, host=src)
    if not bare:
        for path, data in SYSTEM_FILES.items():
            files[path] = Entry(0o644, data=data)
        if not os.path.isfile(CA_BUNDLE):
            raise Failure(f"{CA_BUNDLE}: no such file (apt-get install ca-certificates)")
        files[CA_BUNDLE] = Entry(0o644, host=CA_BUNDLE)
    return files


def tar_info(name, kind, mode, size=0):
    info = tarfile.TarInfo(name.lstrip("/"))
    info.type, info.mode, info.size = kind, mode, size
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def write_layer(out, files, bare, scratch):
    """Writes the layer tar to the file OUT; returns the unpacked bytes."""
    dirs = {"/tmp": 0o1777} if not bare else {}
    for path in files:
        parent = os.path.dirname(path)
        while parent != "/":
            dirs.setdefault(parent, 0o755)
            parent = os.path.dirname(parent)
    unpacked = 0
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(set(dirs) | set(files)):
            if path in dirs:
                tar.addfile(tar_info(path, tarfile.DIRTYPE, dirs[path]))
                continue
            data = files[path].content(scratch)
            unpacked += len(data)
            tar.addfile(tar_info(path, tarfile.REGTYPE, files[path].mode, len(data)), io.BytesIO(data))
    return unpacked


def pairs(items, flag):
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise Failure(f"{flag} '{item}': want KEY=VALUE")
        out[key] = value
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", required=True, help="image reference, e.g. ghcr.io/eventworker/eventworker-runtime:0.1.0")
    p.add_argument("--output", required=True, help="the docker-archive tar to write")
    p.add_argument("--entrypoint", help="absolute path of the program in the image (none when not given)")
    p.add_argument("--user", default="65532:65532", help="UID:GID the image runs as")
    p.add_argument("--env", action="append", default=[], help="KEY=VALUE (PATH is set unless given)")
    p.add_argument("--label", action="append", default=[], help="KEY=VALUE")
    p.add_argument("--bare", action="store_true", help="only the files given and what they load")
    p.add_argument("files", nargs="+", metavar="SRC:DEST")
    a = p.parse_args()

    env = pairs(a.env, "--env")
    env.setdefault("PATH", DEFAULT_PATH.partition("=")[2])
    labels = pairs(a.label, "--label")
    files = collect(a.files, a.bare)
    if a.entrypoint is not None and a.entrypoint not in files:
        raise Failure(f"entrypoint {a.entrypoint} is not among the files")

    inputs = hashlib.sha256()
    with open(__file__, "rb") as f:
        inputs.update(f.read())
    inputs.update(json.dumps([a.ref, a.entrypoint, a.user, env, labels, a.bare]).encode())
    for path in sorted(files):
        inputs.update(f"{path} {files[path].digest()}\n".encode())
    stamp = a.output + ".inputs"
    try:
        with open(stamp) as f:
            kept = f.read().split()
        if os.path.isfile(a.output) and len(kept) == 2 and kept[0] == inputs.hexdigest():
            print(f"{a.ref}: {a.output} unchanged, {os.path.getsize(a.output)} bytes, unpacked {kept[1]} bytes")
            return
    except FileNotFoundError:
        pass

    out_dir = os.path.dirname(os.path.abspath(a.output))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".mkimage-") as scratch:
        layer_path = os.path.join(scratch, "layer.tar")
        with open(layer_path, "wb") as layer:
            unpacked = write_layer(layer, files, a.bare, scratch)
        layer_sha = hashlib.sha256()
        with open(layer_path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                layer_sha.update(chunk)
        layer_id = layer_sha.hexdigest()
        config = {
            "architecture": "amd64",
            "os": "linux",
            "created": EPOCH,
            "config": {
                "User": a.user,
                "Entrypoint": [a.entrypoint] if a.entrypoint else None,
                "Env": [f"{k}={v}" for k, v in sorted(env.items())],
                "Labels": labels,
                "WorkingDir": "/",
            },
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer_id}"]},
            "history": [{"created": EPOCH, "created_by": "hack/image/mkimage.py"}],
        }
        config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
        config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
        manifest = [{"Config": config_name, "RepoTags": [a.ref], "Layers": [f"{layer_id}/layer.tar"]}]
        manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()

        tmp_out = os.path.join(scratch, "image.tar")
        with tarfile.open(tmp_out, mode="w", format=tarfile.GNU_FORMAT) as tar:
            tar.addfile(tar_info(config_name, tarfile.REGTYPE, 0o644, len(config_bytes)), io.BytesIO(config_bytes))
            tar.addfile(tar_info(layer_id, tarfile.DIRTYPE, 0o755))
            with open(layer_path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                tar.addfile(tar_info(f"{layer_id}/layer.tar", tarfile.REGTYPE, 0o644, size), f)
            tar.addfile(tar_info("manifest.json", tarfile.REGTYPE, 0o644, len(manifest_bytes)),
                        io.BytesIO(manifest_bytes))
        os.replace(tmp_out, a.output)
    with open(stamp, "w") as f:
        f.write(f"{inputs.hexdigest()} {unpacked}\n")
    print(f"{a.ref}: {a.output} {os.path.getsize(a.output)} bytes, unpacked {unpacked} bytes")


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        sys.exit(f"mkimage.py: {e}")
