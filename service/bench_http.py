"""`aza-cds bench --http`: the floor apps and aza-cds under gunicorn with the same settings, driven by wrk on
loopback with signed tokens; start-up time and peak RSS per worker."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

FLOORS = {"floor": "service.bench_apps:floor_app()", "auth-floor": "service.bench_apps:auth_floor_app()"}
WRK_SCRIPT = """
local body = io.open("{body}"):read("*a")
local tokens = {{}}
local count, threads = 0, {threads}
setup = function(thread) thread:set("slot", count); count = count + 1 end
init = function(args)
  if "{tokens}" ~= "" then for line in io.lines("{tokens}") do tokens[#tokens + 1] = line end end
  index = slot
end
request = function()
  local headers = {{["Content-Type"] = "application/json"}}
  if #tokens > 0 then
    headers["Authorization"] = "Bearer " .. tokens[(index % #tokens) + 1]
    index = index + threads
  end
  return wrk.format("POST", nil, headers, body)
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if not found and shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("aza-cds bench --http needs wrk (Debian package 'wrk'); install it and run again")
    return found


def http_compare(raw: bytes, duration: int, workers: int) -> dict:
    """Both apps under gunicorn with the same settings, posting the order-sign body `raw`; aza-cds with production
    settings (auth required)."""
    wrk = ensure_wrk()
    folder = Path(tempfile.mkdtemp(prefix="aza-bench-"))
    (folder / "body.json").write_bytes(raw)
    signer = _rs384_client(folder)
    results = {}
    for name in ("floor", "auth-floor", "aza-cds"):
        port = _free_port()
        url = f"http://127.0.0.1:{port}/cds-services/azathioprine-order-sign"
        server, startup = _start(name, port, workers, folder)
        try:
            runs = {}
            for connections in (1, 8):
                tokens = ""
                if name != "floor":
                    tokens = str(folder / f"tokens-{connections}.txt")
                    count = 4000 * duration if connections > 1 else 1500 * duration
                    Path(tokens).write_text("\n".join(signer(url) for _ in range(count)) + "\n")
                runs[connections] = _wrk(wrk, url, folder, connections, duration, tokens)
            results[name] = {
                "startup_seconds": startup,
                "runs": runs,
                "peak_rss_mb_per_worker": _worker_rss(server.pid),
            }
        finally:
            server.terminate()
            server.wait(timeout=20)
    shutil.rmtree(folder, ignore_errors=True)
    return results


def _rs384_client(folder: Path):
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key())) | {"kid": "bench", "use": "sig"}
    (folder / "trust.json").write_text(
        json.dumps({"issuers": [{"iss": "https://bench.example", "jwks": {"keys": [public]}}]})
    )

    def sign(url: str) -> str:
        now = int(time.time())
        claims = {"iss": "https://bench.example", "aud": url, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, key, algorithm="RS384", headers={"kid": "bench", "typ": "JWT"})

    return sign


def _start(name: str, port: int, workers: int, folder: Path):
    env = {
        **os.environ,
        "AZA_CDS_AUTH": "required",
        "AZA_CDS_TRUST_FILE": str(folder / "trust.json"),
        "AZA_CDS_DATA_DIR": str(folder / "data"),
        "AZA_CDS_PUBLIC_URL": f"http://127.0.0.1:{port}",  # the audience the benchmark's tokens are signed for
    }
    if name in FLOORS:
        # the worker kind, threads and preloading of `aza-cds serve` (service/serve.py), so that only the app differs
        command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                   "--worker-class", "gthread", "--threads", "32", "--preload", "--timeout", "30",
                   FLOORS[name]]  # fmt: skip
    else:
        command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", str(workers)]
    started = time.perf_counter()
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as probe:
                probe.sendall(b"GET /cds-services HTTP/1.0\r\n\r\n")
                if probe.recv(12).startswith(b"HTTP/"):
                    return server, time.perf_counter() - started
        except OSError:
            if server.poll() is not None or time.perf_counter() - started > 30:
                raise SystemExit(f"{name} did not start") from None
            time.sleep(0.02)


def _wrk(wrk: str, url: str, folder: Path, connections: int, duration: int, tokens: str) -> dict:
    threads = min(connections, 2)
    script = folder / "post.lua"
    script.write_text(WRK_SCRIPT.format(body=folder / "body.json", tokens=tokens, threads=threads))
    output = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = {
        pct: _ms(value, unit)
        for pct, value, unit in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(_found(r"Requests/sec:\s+([\d.]+)", output)),
        "p50_ms": latency.get("50"),
        "p90_ms": latency.get("90"),
        "p99_ms": latency.get("99"),
        "non_2xx": int(failed.group(1)) if failed else 0,
    }


def _found(pattern: str, text: str) -> str:
    """The first group of `pattern` in a tool's output, which must be there (else the tool changed its format)."""
    match = re.search(pattern, text, re.M)
    if match is None:
        raise RuntimeError(f"expected {pattern!r} in:\n{text[:2000]}")
    return match.group(1)


def _ms(value: str, unit: str) -> float:
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 3)


def _worker_rss(master: int) -> float:
    children = Path(f"/proc/{master}/task/{master}/children")
    pids = children.read_text().split() if children.exists() else []
    peaks = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(_found(r"VmHWM:\s+(\d+) kB", status)) / 1024)
    return max(peaks, default=0.0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
