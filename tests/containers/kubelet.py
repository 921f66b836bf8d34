"""What a kubelet does with a rendered pod, done with ``docker``: the one translation from the chart's
manifests to ``docker run`` arguments, probes and a kubelet-style stop.

Nothing about the pods is written here: image, command/args, env (values, downward API, ConfigMap and
Secret references), securityContext, volumes (emptyDir as tmpfs, Secret/ConfigMap files), resources and
ports are read from the rendered objects. A field this module does not know how to honour raises
:class:`Unsupported`, so a chart change the containers would silently ignore fails the suite instead.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

# Fields of a container / pod spec and what happens to them here. Anything else is Unsupported.
CONTAINER_FIELDS = {
    "name", "image", "imagePullPolicy",       # images are local; nothing to pull
    "command", "args", "workingDir", "env", "envFrom", "ports", "resources", "securityContext",
    "volumeMounts", "startupProbe", "readinessProbe", "livenessProbe",
    "lifecycle",                              # preStop, run by stop()
}
POD_FIELDS = {
    "containers", "volumes", "securityContext", "terminationGracePeriodSeconds", "restartPolicy",
    "automountServiceAccountToken",           # must be false: no API server here
    "enableServiceLinks",                     # must be false: no *_SERVICE_HOST variables are made
    # scheduling: one host, nothing to choose
    "affinity", "nodeSelector", "tolerations", "topologySpreadConstraints", "imagePullSecrets",
}
CLUSTER_DOMAIN = "cluster.local"
DOCKER = "docker"


class Unsupported(AssertionError):
    """The rendered pod asks for something this translation does not reproduce."""


# -- quantities ----------------------------------------------------------------------------------------
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def memory_bytes(quantity) -> int:
    text = str(quantity)
    match = re.fullmatch(r"([0-9.]+)([KMGT]i|[kMGT])?", text)
    if not match:
        raise Unsupported(f"memory quantity {text!r}")
    number, unit = match.groups()
    return int(float(number) * (_BINARY.get(unit) or _DECIMAL.get(unit) or 1))


def cpu_cores(quantity) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


# -- objects -------------------------------------------------------------------------------------------
def find(objects: list[dict], kind: str, name: str) -> dict:
    for o in objects:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    raise Unsupported(f"the pod refers to {kind} {name!r}, which the chart does not render")


def object_data(objects: list[dict], kind: str, name: str) -> dict[str, bytes]:
    obj = find(objects, kind, name)
    data = {k: v.encode() for k, v in (obj.get("stringData") or {}).items()}
    if kind == "Secret":
        data.update({k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()})
    else:
        data.update({k: v.encode() for k, v in (obj.get("data") or {}).items()})
    return data


@dataclass
class Pod:
    """One pod of a rendered workload (or a bare Pod), with what is needed to run its containers."""

    name: str
    namespace: str
    labels: dict
    spec: dict
    objects: list[dict]

    @classmethod
    def of(cls, objects: list[dict], kind: str, name: str, pod_name: str | None = None) -> "Pod":
        obj = find(objects, kind, name)
        if kind == "Pod":
            meta, spec = obj["metadata"], obj["spec"]
        else:
            meta, spec = obj["spec"]["template"]["metadata"], obj["spec"]["template"]["spec"]
        return cls(pod_name or name, obj["metadata"]["namespace"], dict(meta.get("labels") or {}), spec, objects)

    @property
    def grace_seconds(self) -> float:
        return float(self.spec.get("terminationGracePeriodSeconds", 30))

    def container(self, name: str | None = None) -> dict:
        containers = self.spec["containers"]
        if name is None:
            if len(containers) != 1:
                raise Unsupported(f"pod {self.name} has {len(containers)} containers; name one")
            return containers[0]
        return next(c for c in containers if c["name"] == name)

    def field_ref(self, path: str) -> str:
        values = {"metadata.namespace": self.namespace, "metadata.name": self.name,
                  "spec.serviceAccountName": self.spec.get("serviceAccountName", "default")}
        if path.startswith("metadata.labels['"):
            return self.labels[path[len("metadata.labels['"):-2]]
        if path not in values:
            raise Unsupported(f"fieldRef {path}")
        return values[path]

    def check(self) -> None:
        unknown = set(self.spec) - POD_FIELDS
        if unknown:
            raise Unsupported(f"pod {self.name}: fields {sorted(unknown)}")
        if self.spec.get("automountServiceAccountToken", True):
            raise Unsupported(f"pod {self.name} mounts a service account token: there is no API server here")
        if self.spec.get("enableServiceLinks", True):
            raise Unsupported(f"pod {self.name} wants service-link variables")
        for c in self.spec["containers"]:
            unknown = set(c) - CONTAINER_FIELDS
            if unknown:
                raise Unsupported(f"container {c['name']}: fields {sorted(unknown)}")


# -- the translation -----------------------------------------------------------------------------------
def security(pod: Pod, container: dict) -> dict:
    """The effective security context: the container's fields over the pod's."""
    return {**(pod.spec.get("securityContext") or {}), **(container.get("securityContext") or {})}


def env_pairs(pod: Pod, container: dict) -> list[tuple[str, str]]:
    pairs = []
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = object_data(pod.objects, "ConfigMap", source["configMapRef"]["name"])
        elif "secretRef" in source:
            data = object_data(pod.objects, "Secret", source["secretRef"]["name"])
        else:
            raise Unsupported(f"envFrom {source}")
        pairs += [(prefix + k, v.decode()) for k, v in data.items()]
    for item in container.get("env") or []:
        if "value" in item:
            pairs.append((item["name"], str(item["value"])))
            continue
        ref = item.get("valueFrom") or {}
        if "fieldRef" in ref:
            value = pod.field_ref(ref["fieldRef"]["fieldPath"])
        elif "configMapKeyRef" in ref:
            value = object_data(pod.objects, "ConfigMap", ref["configMapKeyRef"]["name"])[ref["configMapKeyRef"]["key"]].decode()
        elif "secretKeyRef" in ref:
            value = object_data(pod.objects, "Secret", ref["secretKeyRef"]["name"])[ref["secretKeyRef"]["key"]].decode()
        else:
            raise Unsupported(f"env {item['name']}: valueFrom {sorted(ref)}")
        pairs.append((item["name"], value))
    return pairs


def _write_projected(pod: Pod, volume: dict, kind: str, name: str, host_dir: Path) -> None:
    """Secret / ConfigMap files as the kubelet projects them: items (or every key), defaultMode, and the
    pod's fsGroup as their group."""
    source = volume["secret" if kind == "Secret" else "configMap"]
    data = object_data(pod.objects, kind, name)
    items = source.get("items") or [{"key": k, "path": k} for k in data]
    mode = source.get("defaultMode", 0o644)
    group = (pod.spec.get("securityContext") or {}).get("fsGroup")
    host_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(host_dir, 0o755)
    for item in items:
        path = host_dir / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[item["key"]])
        file_mode = item.get("mode", mode)
        if group is not None and os.geteuid() == 0:
            os.chown(path, 0, group)
        elif group is not None:  # not root (a CI runner in the docker group): readable by all instead
            file_mode |= 0o444
        os.chmod(path, file_mode)


def volume_args(pod: Pod, container: dict, files_dir: Path) -> list[str]:
    volumes = {v["name"]: v for v in pod.spec.get("volumes") or []}
    args = []
    for mount in container.get("volumeMounts") or []:
        if "subPath" in mount or "subPathExpr" in mount:
            raise Unsupported(f"volumeMount {mount['name']} with a subPath")
        volume = volumes[mount["name"]]
        target, read_only = mount["mountPath"], mount.get("readOnly", False)
        if "emptyDir" in volume:
            size = (volume["emptyDir"] or {}).get("sizeLimit")
            options = ["rw" if not read_only else "ro", "mode=1777", "exec"]
            if size:
                options.append(f"size={memory_bytes(size)}")
            args += ["--tmpfs", f"{target}:{','.join(options)}"]
        elif "secret" in volume or "configMap" in volume:
            kind = "Secret" if "secret" in volume else "ConfigMap"
            name = volume["secret"]["secretName"] if kind == "Secret" else volume["configMap"]["name"]
            host_dir = files_dir / mount["name"]
            _write_projected(pod, volume, kind, name, host_dir)
            # the kubelet mounts Secret and ConfigMap volumes read-only whatever the mount says
            args += ["--mount", f"type=bind,source={host_dir},target={target},readonly"]
        else:
            raise Unsupported(f"volume {mount['name']}: {sorted(set(volume) - {'name'})}")
    return args


def security_args(pod: Pod, container: dict) -> list[str]:
    sc = security(pod, container)
    args = []
    user = sc.get("runAsUser")
    if sc.get("runAsNonRoot") and user in (None, 0):
        raise Unsupported(f"{container['name']}: runAsNonRoot without a numeric non-root runAsUser")
    if user is not None:
        group = sc.get("runAsGroup")  # unset: the CRI looks the user up in the image, else group 0
        args += ["--user", str(user) if group is None else f"{user}:{group}"]
    fs_group = (pod.spec.get("securityContext") or {}).get("fsGroup")
    if fs_group is not None:
        args += ["--group-add", str(fs_group)]
    for group in (pod.spec.get("securityContext") or {}).get("supplementalGroups") or []:
        args += ["--group-add", str(group)]
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    if sc.get("privileged"):
        args.append("--privileged")
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    caps = sc.get("capabilities") or {}
    args += [a for cap in caps.get("drop") or [] for a in ("--cap-drop", cap)]
    args += [a for cap in caps.get("add") or [] for a in ("--cap-add", cap)]
    seccomp = (sc.get("seccompProfile") or {}).get("type", "RuntimeDefault")
    if seccomp == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
    elif seccomp != "RuntimeDefault":  # RuntimeDefault is docker's default profile
        raise Unsupported(f"seccompProfile {seccomp}")
    return args


def resource_args(container: dict) -> list[str]:
    resources = container.get("resources") or {}
    limits, requests_ = resources.get("limits") or {}, resources.get("requests") or {}
    args = []
    if "memory" in limits:
        limit = memory_bytes(limits["memory"])
        args += ["--memory", str(limit), "--memory-swap", str(limit)]  # no swap, as on a kubelet node
    if "cpu" in limits:
        args += ["--cpus", f"{cpu_cores(limits['cpu']):g}"]
    if "cpu" in requests_:
        args += ["--cpu-shares", str(max(2, int(cpu_cores(requests_["cpu"]) * 1024)))]
    if "memory" in requests_:
        args += ["--memory-reservation", str(memory_bytes(requests_["memory"]))]
    return args


def dns_args(pod: Pod) -> list[str]:
    """The pod's resolv.conf as the kubelet writes it (ClusterFirst): search domains and ndots:5."""
    searches = [f"{pod.namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]
    return [a for s in searches for a in ("--dns-search", s)] + ["--dns-option", "ndots:5"]


def run_args(pod: Pod, container: dict, *, name: str, network: str, files_dir: Path,
             labels: dict[str, str], extra_args: list[str] = ()) -> list[str]:
    """``docker run`` arguments for one container of ``pod`` (everything but ``docker run -d``)."""
    pod.check()
    args = ["--name", name, "--hostname", pod.name, "--network", network]
    args += [a for k, v in labels.items() for a in ("--label", f"{k}={v}")]
    args += [a for k, v in pod.labels.items() for a in ("--label", f"{k}={v}")]
    args += [a for k, v in env_pairs(pod, container) for a in ("--env", f"{k}={v}")]
    args += volume_args(pod, container, files_dir / name)
    args += security_args(pod, container)
    args += resource_args(container)
    args += dns_args(pod)
    args += [a for p in container.get("ports") or [] for a in ("--expose", f"{p['containerPort']}/{p.get('protocol', 'TCP').lower()}")]
    if "workingDir" in container:
        args += ["--workdir", container["workingDir"]]
    command = list(container.get("command") or [])
    if command:
        args += ["--entrypoint", command[0]]
    args.append(container["image"])
    args += command[1:]
    args += list(container.get("args") or []) + list(extra_args)
    return args


# -- running containers --------------------------------------------------------------------------------
def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} ... failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


@dataclass
class Container:
    """A running container of a pod, with the kubelet's probes and stop."""

    pod: Pod
    spec: dict
    name: str
    network: str
    started: float = field(default_factory=time.monotonic)
    ready_seconds: float | None = None

    @classmethod
    def run(cls, pod: Pod, *, name: str, network: str, files_dir: Path, labels: dict[str, str],
            container: str | None = None, extra_args: list[str] = ()) -> "Container":
        spec = pod.container(container)
        args = run_args(pod, spec, name=name, network=network, files_dir=files_dir, labels=labels,
                        extra_args=extra_args)
        started = time.monotonic()
        docker("run", "-d", *args)
        return cls(pod, spec, name, network, started)

    def inspect(self) -> dict:
        import json

        return json.loads(docker("inspect", self.name).stdout)[0]

    def ip(self, network: str) -> str:
        return self.inspect()["NetworkSettings"]["Networks"][network]["IPAddress"]

    def port(self, ref) -> int:
        if isinstance(ref, int) or str(ref).isdigit():
            return int(ref)
        return next(p["containerPort"] for p in self.spec.get("ports") or [] if p.get("name") == ref)

    def url(self, network: str, port_ref) -> str:
        return f"http://{self.ip(network)}:{self.port(port_ref)}"

    def logs(self, tail: int = 60) -> str:
        proc = docker("logs", "--tail", str(tail), self.name, check=False)
        return proc.stdout + proc.stderr

    def state(self) -> dict:
        return self.inspect()["State"]

    # -- probes ----------------------------------------------------------------------------------------
    def probe_once(self, probe: dict, network: str) -> bool:
        timeout = float(probe.get("timeoutSeconds", 1))
        if "httpGet" in probe:
            get = probe["httpGet"]
            scheme = get.get("scheme", "HTTP").lower()
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
            url = f"{scheme}://{self.ip(network)}:{self.port(get['port'])}{get.get('path', '/')}"
            try:
                return 200 <= requests.get(url, headers=headers, timeout=timeout).status_code < 400
            except requests.RequestException:
                return False
        if "tcpSocket" in probe:
            try:
                socket.create_connection((self.ip(network), self.port(probe["tcpSocket"]["port"])), timeout).close()
                return True
            except OSError:
                return False
        if "exec" in probe:
            return docker("exec", self.name, *probe["exec"]["command"], timeout=timeout, check=False).returncode == 0
        raise Unsupported(f"probe {sorted(probe)}")

    def wait_started(self, network: str, poll: float = 0.25) -> float:
        """Poll the startup probe (else readiness) until it succeeds, within the probe's own budget
        (initialDelaySeconds + periodSeconds x failureThreshold). Polls more often than the kubelet so the
        start-to-ready time is measured, not rounded to a period. Returns seconds from `docker run`."""
        probe = self.spec.get("startupProbe") or self.spec.get("readinessProbe")
        if probe is None:
            raise Unsupported(f"container {self.spec['name']} has no startup or readiness probe")
        budget = (probe.get("initialDelaySeconds", 0)
                  + probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3))
        deadline = self.started + budget
        while time.monotonic() < deadline:
            if self.probe_once(probe, network):
                self.ready_seconds = time.monotonic() - self.started
                return self.ready_seconds
            if not self.state()["Running"]:
                raise AssertionError(f"{self.name} exited ({self.state()['ExitCode']}) before its probe "
                                     f"passed:\n{self.logs()}")
            time.sleep(poll)
        raise AssertionError(f"{self.name}: startup probe {probe} did not pass within its budget of {budget} s:\n"
                             f"{self.logs()}")

    def probes_pass(self, network: str) -> dict[str, bool]:
        return {kind: self.probe_once(self.spec[kind], network)
                for kind in ("startupProbe", "readinessProbe", "livenessProbe") if kind in self.spec}

    # -- termination -----------------------------------------------------------------------------------
    def stop(self, before_sigterm=None) -> dict:
        """Terminate as the kubelet does: the preStop hook, then SIGTERM, then SIGKILL when the pod's
        terminationGracePeriodSeconds (counted from the start of preStop) runs out. ``before_sigterm`` is
        called as the preStop hook ends (a request arriving in its last moment, as one may in a cluster
        while the endpoints catch up). Returns the exit code, the seconds the whole termination took and
        when (time.monotonic()) SIGTERM was sent."""
        grace = self.pod.grace_seconds
        begin = time.monotonic()
        pre_stop = ((self.spec.get("lifecycle") or {}).get("preStop") or {})
        if "exec" in pre_stop:
            docker("exec", self.name, *pre_stop["exec"]["command"], timeout=grace, check=False)
        elif pre_stop:
            raise Unsupported(f"preStop {sorted(pre_stop)}")
        if before_sigterm is not None:
            before_sigterm()
        remaining = max(1, int(grace - (time.monotonic() - begin)))
        sigterm_at = time.monotonic()
        docker("stop", "-t", str(remaining), self.name, timeout=remaining + 30)
        return {"exit_code": int(self.state()["ExitCode"]), "seconds": time.monotonic() - begin,
                "sigterm_at": sigterm_at, "oom_killed": self.state()["OOMKilled"]}

    def kill(self, signal: str = "KILL") -> None:
        docker("kill", "-s", signal, self.name)


def remove_labelled(label: str) -> None:
    """Remove every container carrying ``label`` (key=value) — only the ones this suite created."""
    ids = docker("ps", "-aq", "--filter", f"label={label}", check=False).stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False, timeout=180)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="bioxen-pods-"))
