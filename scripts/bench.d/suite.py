"""Throughput and memory benchmarks (issue 10), side by side with wrk and the Python Graph SDK.

Usage: suite.py BIN RECIPIENT VENV_PYTHON --users N[,N...] [--sdk-users N] [--wrk-seconds S]
Prints a Markdown section on stdout; progress on stderr.

Every measurement gets a sandbox of its own (Graph in sync204 mode: the answer comes at once, so
the figure is the client's own), in its own process on loopback. credrotate runs with its journal
(fsync on) and an export encrypted to one recipient, `--rate unlimited --concurrency 64`.
- peak RSS and wall: `/usr/bin/time -v` around the process;
- after the last reset: the process's exit time minus the sandbox's wall-clock arrival of the
  last reset request, as a share of the wall time;
- start-up: the sandbox's arrival of the first reset request minus the process's start, for a
  10-row manifest;
- `report` rebuild: `credrotate report --out DIR` on the finished run (report and summary
  rebuilt from the journal in two passes; a complete run has deleted its journal.key, so the
  export is left as it is);
- wrk: POSTs of the same request (path shape, body, headers) on 64 connections for S seconds;
  once for one user over and over (the issue's figure), once with a user of its own per request
  (what a run asks of the sandbox: each user's record is created on its first reset);
- Python SDK: msgraph-sdk with asyncio, 64 requests in flight, one connection each.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
METHOD = "28c10230-6103-485e-b985-444c60001490"
TOKEN = "bench-token"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Sandbox:
    def __init__(self, binary, work):
        self.ready = os.path.join(work, f"ready-{time.monotonic_ns()}.json")
        env = dict(os.environ, CREDROTATE_SANDBOX_TOKEN=TOKEN)
        with open(self.ready, "w") as out:
            self.proc = subprocess.Popen(
                [binary, "sandbox", "--listen", "127.0.0.1:0", "--graph-mode", "sync204"],
                stdout=out, stderr=subprocess.DEVNULL, env=env)
        for _ in range(100):
            if os.path.getsize(self.ready) > 0:
                break
            time.sleep(0.1)
        self.urls = json.load(open(self.ready))

    def stats(self):
        return json.load(urllib.request.urlopen(self.urls["base_url"] + "/_sandbox/stats"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def manifest(path, users, fmt, prefix):
    with open(path, "w") as f:
        if fmt == "csv":
            f.write("user\n")
            for i in range(1, users + 1):
                f.write(f"{prefix}{i:08}@example.test\n")
        else:
            for i in range(1, users + 1):
                f.write(f'{{"user": "{prefix}{i:08}@example.test"}}\n')


def timed(cmd, env):
    """Runs cmd under /usr/bin/time -v: (start, end, peak RSS MiB, stdout)."""
    start = time.time()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    end = time.time()
    if p.returncode != 0:
        sys.exit(f"benchmark command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return start, end, rss / 1024, p.stdout


def config(work, sandbox):
    path = os.path.join(work, f"bench-{time.monotonic_ns()}.toml")
    with open(path, "w") as f:
        f.write(f'[providers.graph]\nkind = "graph"\nbase_url = "{sandbox.urls["graph_v1"]}"\n')
    return path


def run(binary, recipient, work, users, fmt):
    log(f"run: {users} users, {fmt}")
    m = os.path.join(work, f"users-{users}.{fmt}")
    manifest(m, users, fmt, "bench")
    out = os.path.join(work, f"out-{users}-{fmt}")
    with Sandbox(binary, work) as sb:
        cmd = [binary, "run", "--manifest", m, "--config", config(work, sb), "--out", out,
               "--recipient", recipient, "--yes", "--rate", "unlimited", "--concurrency", "64",
               "--progress", "never"]
        start, end, rss, _ = timed(cmd, dict(os.environ, CREDROTATE_TOKEN=TOKEN))
        s = sb.stats()
    os.remove(m)
    journal = os.path.getsize(os.path.join(out, "journal.jsonl"))
    r_start, r_end, r_rss, _ = timed([binary, "report", "--out", out], dict(os.environ))
    subprocess.run(["rm", "-rf", out])
    wall = end - start
    if s["resets_total"] != users:
        sys.exit(f"the sandbox applied {s['resets_total']} resets of {users}")
    return {"users": users, "format": fmt, "wall": wall, "rss": rss, "rate": users / wall,
            "after_last": (end - s["last_write_unix_ms"] / 1000) / wall,
            "startup": s["first_write_unix_ms"] / 1000 - start, "journal_per_row": journal / users,
            "report_wall": r_end - r_start, "report_rss": r_rss}


def validate(binary, work, users, fmt):
    log(f"validate: {users} rows, {fmt}")
    m = os.path.join(work, f"validate-{users}.{fmt}")
    manifest(m, users, fmt, "check")
    with Sandbox(binary, work) as sb:
        cmd = [binary, "validate", "--manifest", m, "--provider", "graph", "--config", config(work, sb)]
        start, end, rss, _ = timed(cmd, dict(os.environ, CREDROTATE_TOKEN=TOKEN))
    os.remove(m)
    return {"users": users, "format": fmt, "wall": end - start, "rss": rss}


def startup(binary, recipient, work):
    log("start-up: 10 rows")
    return min(run(binary, recipient, work, 10, "csv")["startup"] for _ in range(3))


def wrk(binary, work, seconds, distinct=False):
    log(f"wrk: {seconds} s, 64 connections{', a user per request' if distinct else ''}")
    with Sandbox(binary, work) as sb:
        env = dict(os.environ, WRK_TOKEN=TOKEN,
                   WRK_PATH=f"/v1.0/users/wrk1@example.test/authentication/methods/{METHOD}/resetPassword")
        if distinct:
            env["WRK_DISTINCT"] = "1"
        p = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "-s", os.path.join(HERE, "reset.lua"),
                            sb.urls["base_url"]], capture_output=True, text=True, env=env, check=True)
        statuses = sb.stats()["requests_by_status"]
    if set(statuses) != {"204"}:
        sys.exit(f"wrk's requests were not all answered 204: {statuses}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", p.stdout).group(1))


def python_sdk(binary, venv_python, work, users):
    log(f"Python SDK: {users} users")
    with Sandbox(binary, work) as sb:
        p = subprocess.run([venv_python, os.path.join(HERE, "python_sdk.py"), sb.urls["graph_v1"], TOKEN,
                            str(users), "64"], capture_output=True, text=True, check=True)
        applied = sb.stats()["resets_total"]
    r = json.loads(p.stdout)
    if r["errors"] or applied != users:
        sys.exit(f"the SDK run had {r['errors']} errors, {applied} resets applied of {users}")
    return users / r["seconds"]


def mib(x):
    return f"{x:,.0f} MiB"


def main():
    binary, recipient, venv_python = sys.argv[1:4]
    opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    sizes = [int(n) for n in opts.get("--users", "100000,1000000").split(",")]
    work = tempfile.mkdtemp(prefix="credrotate-bench-")
    wrk_rps = wrk(binary, work, int(opts.get("--wrk-seconds", "10")))
    wrk_distinct_rps = wrk(binary, work, int(opts.get("--wrk-seconds", "10")), distinct=True)
    sdk_rps = python_sdk(binary, venv_python, work, int(opts.get("--sdk-users", "5000")))
    runs = [run(binary, recipient, work, n, fmt) for n in sizes for fmt in ("csv", "jsonl")]
    checks = [validate(binary, work, n, fmt) for n in sizes for fmt in ("csv", "jsonl")]
    first = startup(binary, recipient, work)

    print("| run | wall | resets/s end to end | peak RSS | after the last reset | journal bytes per row "
          "| `report` rebuild: wall, peak RSS |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['users']:,} users, {r['format']} | {r['wall']:.1f} s | {r['rate']:,.0f} | {mib(r['rss'])} "
              f"| {r['after_last']:.1%} | {r['journal_per_row']:.0f} | {r['report_wall']:.1f} s, {mib(r['report_rss'])} |")
    print("\n| validate | wall | peak RSS |\n|---|---|---|")
    for c in checks:
        print(f"| {c['users']:,} rows, {c['format']} | {c['wall']:.1f} s | {mib(c['rss'])} |")
    best = max(r["rate"] for r in runs if r["users"] == sizes[0])
    print(f"\nSide by side on the same sandbox endpoint (64 connections; credrotate's best {sizes[0]:,}-user run, "
          "process start to exit):\n")
    print("| client | requests/s | credrotate's ratio |\n|---|---|---|")
    print(f"| wrk (`-t2 -c64`, same request) | {wrk_rps:,.0f} | {best / wrk_rps:.2f}× |")
    print(f"| wrk (`-t2 -c64`, same request shape, a user of its own per request, as a run) "
          f"| {wrk_distinct_rps:,.0f} | {best / wrk_distinct_rps:.2f}× |")
    print(f"| Python Graph SDK (msgraph-sdk, asyncio, 64 in flight) | {sdk_rps:,.0f} | {best / sdk_rps:.1f}× |")
    print(f"| credrotate | {best:,.0f} | |")
    print(f"\nStart-up to the first reset request, 10-row manifest (best of 3): {first * 1000:.0f} ms.")


if __name__ == "__main__":
    main()
