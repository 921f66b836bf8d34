"""CPU load for the HPA step of deploy/kind/e2e.sh: runs inside the cluster (in the bioxen/vm image, as
a pod the NetworkPolicy admits) and posts flux variability analyses to the static service's ClusterIP
Service from a few threads until the deadline. Prints one summary line; exits 1 if nothing succeeded."""

import os
import sys
import threading
import time

import requests

URL = os.environ.get("BIOXEN_LOAD_URL", "http://bioxen-static-api:8000") + "/v1/fva"
SECONDS = float(os.environ.get("BIOXEN_LOAD_SECONDS", "600"))
THREADS = int(os.environ.get("BIOXEN_LOAD_THREADS", "6"))
BODY = {"model": {"id": "e_coli_core"}, "fraction_of_optimum": 0.9}

counts = {"ok": 0, "error": 0}
lock = threading.Lock()


def worker(deadline: float) -> None:
    with requests.Session() as session:
        while time.monotonic() < deadline:
            try:
                ok = session.post(URL, json=BODY, timeout=120).status_code == 200
            except requests.RequestException:
                ok = False
            with lock:
                counts["ok" if ok else "error"] += 1


def main() -> int:
    deadline = time.monotonic() + SECONDS
    threads = [threading.Thread(target=worker, args=(deadline,), daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"load: {counts['ok']} ok, {counts['error']} errors against {URL}", flush=True)
    return 0 if counts["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
