#!/usr/bin/python3
"""tools/soak.py - both tiers under a mixed load while faults are injected
in turn; run through tools/soak.sh (which installs what is missing).

Loopback only, bounded (--duration), stops by itself. tierdns-upper serves
a generated zone; tierdns-local forwards to it with a small --cache-size so
that eviction runs all the time. dnsperf sends a mix of hot names (hits),
names spread over the whole zone (misses once evicted), NXDOMAIN and NODATA
over UDP, and a share over TCP, in back-to-back segments of --sample
seconds: each segment is one row of the table (QPS, lost, SERVFAIL, the
hot-set hit ratio, memory of both daemons, size of the local store). The
hot-set hit ratio is the share of 100 random hot names that local answers
with RD=0, that is from its cache alone. Meanwhile, in turn:

  stop     upper SIGSTOP for 4 s, then SIGCONT
  kill-up  upper kill -9, restarted 1 s later on the same store and port
  kill-lo  local kill -9, restarted at once on the same store and port
  reload   a new version of the zone loaded into the upper (changed names)
  burst    4 s of never-seen names at twice the rate, on top of the load

A probe asks local for a name it has never asked, every 0.1 s; "recovered"
is the time from the end of a fault to the first such name answered.

Verdict: no daemon died unless killed; anon memory flat after warm-up
(growth of at most --mem-slack MiB from the first sample after warm-up to
the last, in each life of the local: the one restarted at the kill-lo fault
is judged after a warm-up of its own, RESTART_WARM seconds or a fifth of
what is left of the run; not judged for a sanitizer build, whose allocator keeps freed
memory in quarantine); after the run, once the zone's TTL has passed, local
and upper give the same answer (rcode and addresses) for a sample of names,
the changed ones included; every fault recovered within --recover-max s.
Exit 0 when the verdict holds, 1 when not, 2 on a usage or setup error.
"""
import argparse
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TTL = 10           # TTL of the changed names and the SOA minimum: the end check waits this long
LONG_TTL = 3600    # every other name's
CHANGED = 200      # names whose address the reload changes
PROBES = 20000     # names only the probe asks
RESTART_WARM = 60  # s: the warm-up of the local restarted at kill-lo (memory)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(TOP, "build-rel"),
                   help="build directory with the programs (default build-rel/)")
    p.add_argument("--duration", type=int, default=300, help="seconds of load (default 300)")
    p.add_argument("--rate", type=int, default=5000, help="queries per second in all (default 5000)")
    p.add_argument("--tcp-share", type=float, default=0.05,
                   help="part of the rate sent over TCP (default 0.05)")
    p.add_argument("--cache-size", default="6M", help="tierdns-local --cache-size (default 6M)")
    p.add_argument("--names", type=int, default=50000, help="names in the zone (default 50000)")
    p.add_argument("--hot", type=int, default=2000,
                   help="hot names, asked by 55 %% of the queries (default 2000)")
    p.add_argument("--sample", type=int, default=5, help="seconds per table row (default 5)")
    p.add_argument("--threads", type=int, default=2, help="threads of each daemon (default 2)")
    p.add_argument("--mem-slack", type=float, default=8.0,
                   help="allowed anon memory growth after warm-up, MiB (default 8)")
    p.add_argument("--recover-max", type=float, default=10.0,
                   help="longest allowed recovery after a fault, seconds (default 10)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    a = p.parse_args()
    if a.duration < 30:
        p.error("--duration must be at least 30 seconds (warm-up and five faults)")
    if a.rate < 100 or not 0 <= a.tcp_share < 1 or a.sample < 1:
        p.error("--rate >= 100, 0 <= --tcp-share < 1, --sample >= 1")
    return a


def say(msg):
    print("soak: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup

HOT = 2000  # set from --hot


def zone_text(names, version):
    """The zone soak.: n<i>, h<i> (hot), p<i> (probe) and c<i> (changed by
    the reload: its address depends on version)."""
    out = ["$ORIGIN soak.", "$TTL %d" % LONG_TTL,
           "@ IN SOA ns.soak. hostmaster.soak. %d 3600 900 604800 %d" % (version, TTL),
           "@ IN NS ns.soak.", "ns IN A 127.0.0.1"]
    for i in range(names):
        out.append("n%d IN A 10.%d.%d.%d" % (i, i >> 16 & 255, i >> 8 & 255, i & 255))
    for i in range(HOT):
        out.append("h%d IN A 10.200.%d.%d" % (i, i >> 8 & 255, i & 255))
    for i in range(PROBES):
        out.append("p%d IN A 10.201.%d.%d" % (i, i >> 8 & 255, i & 255))
    for i in range(CHANGED):
        out.append("c%d %d IN A 10.%d.0.%d" % (i, TTL, 210 + version, i & 255))
    return "\n".join(out) + "\n"


def write_queries(path, names, count, rng):
    """The mixed load: 55 % hot, 25 % anywhere in the zone, 10 % NXDOMAIN,
    5 % NODATA, 5 % changed names."""
    with open(path, "w") as f:
        for _ in range(count):
            r = rng.random()
            if r < 0.55:
                f.write("h%d.soak. A\n" % rng.randrange(HOT))
            elif r < 0.80:
                f.write("n%d.soak. A\n" % rng.randrange(names))
            elif r < 0.90:
                f.write("nx%d.soak. A\n" % rng.randrange(10 ** 7))
            elif r < 0.95:
                f.write("h%d.soak. TXT\n" % rng.randrange(HOT))
            else:
                f.write("c%d.soak. A\n" % rng.randrange(CHANGED))


def free_port():
    """A port free on 127.0.0.1 for UDP and TCP, below the kernel's
    ephemeral range (32768-60999 by default): a daemon restarted on its
    port must not find it taken by one of the thousands of upstream
    sockets the local opens while its upper is down (the upper's start
    refuses a port any socket holds)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    while True:
        p = random.randint(min(10000, low - 1000), low - 1)
        ok = True
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return p


# ---------------------------------------------------------------- DNS

def make_query(name, qtype=1):
    qid = random.randrange(65536)
    wire = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    return qid, wire + b"\0" + struct.pack("!HH", qtype, 1)


def skip_name(m, pos):
    while True:
        c = m[pos]
        if c == 0:
            return pos + 1
        if c & 0xC0 == 0xC0:
            return pos + 2
        pos += c + 1


def ask(port, name, timeout=1.0, rd=True):
    """(rcode, sorted A addresses) from 127.0.0.1:port, or None."""
    qid, wire = make_query(name)
    if not rd:
        wire = wire[:2] + b"\0" + wire[3:]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(wire, ("127.0.0.1", port))
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m, _ = s.recvfrom(65535)
            if len(m) >= 12 and struct.unpack("!H", m[:2])[0] == qid:
                break
        else:
            return None
    except OSError:
        return None
    finally:
        s.close()
    rcode = m[3] & 15
    an = struct.unpack("!H", m[6:8])[0]
    pos = skip_name(m, 12) + 4
    addrs = []
    for _ in range(an):
        pos = skip_name(m, pos)
        rtype, _, _, rdlen = struct.unpack("!HHIH", m[pos:pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            addrs.append(socket.inet_ntoa(m[pos:pos + 4]))
        pos += rdlen
    return rcode, sorted(addrs)


# ---------------------------------------------------------------- daemons

class Daemon:
    def __init__(self, name, argv, port, logdir):
        self.name, self.argv, self.port = name, argv, port
        self.log_path = os.path.join(logdir, name + ".log")
        self.log = open(self.log_path, "ab")
        self.proc = None
        self.expected_exit = False
        self.died = []  # unexpected exits: (time, status)

    def start(self):
        self.expected_exit = False
        self.proc = subprocess.Popen(self.argv + ["--listen", "127.0.0.1", "--port",
                                                  str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.proc.poll() is not None:
                raise SystemExit("soak: %s exited at start (see its log)" % self.name)
            if ask(self.port, "ns.soak.", 0.2) is not None:
                return
            time.sleep(0.1)
        raise SystemExit("soak: %s does not answer" % self.name)

    def check(self, now):
        if self.proc.poll() is not None and not self.expected_exit:
            self.died.append((now, self.proc.returncode))
            self.expected_exit = True  # counted once

    def signal(self, sig):
        if sig == signal.SIGKILL:
            self.expected_exit = True
        self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.expected_exit = True
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def memory(self):
        """(anon MiB, PSS MiB) or (None, None)."""
        pid = self.proc.pid
        anon = pss = None
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        anon = int(line.split()[1]) / 1024
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1]) / 1024
        except OSError:
            pass
        return anon, pss


# ---------------------------------------------------------------- load

STAT_RE = {
    "sent": re.compile(r"Queries sent:\s+(\d+)"),
    "lost": re.compile(r"Queries lost:\s+(\d+)"),
    "qps": re.compile(r"Queries per second:\s+([\d.]+)"),
    "servfail": re.compile(r"SERVFAIL (\d+)"),
}


def dnsperf(port, qfile, secs, rate, tcp=False):
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(secs),
            "-Q", str(max(1, int(rate))), "-c", "4", "-q", "200", "-t", "2"]
    if tcp:
        argv += ["-m", "tcp"]
    r = subprocess.run(argv, capture_output=True, text=True)
    out = {}
    for k, rx in STAT_RE.items():
        m = rx.search(r.stdout)
        out[k] = float(m.group(1)) if m else 0.0
    return out


class Prober(threading.Thread):
    """Asks local for a never-asked name every 0.1 s; records (t, ok)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.results, self.stop_ev, self.i = port, [], threading.Event(), 0

    def run(self):
        while not self.stop_ev.is_set():
            name = "p%d.soak." % (self.i % PROBES)
            self.i += 1
            t = time.monotonic()
            r = ask(self.port, name, 1.0)
            self.results.append((t, r is not None and r[0] == 0 and len(r[1]) == 1))
            self.stop_ev.wait(0.1)

    def recovered_after(self, t0):
        for t, ok in self.results:
            if t >= t0 and ok:
                return t - t0
        return None


# ---------------------------------------------------------------- main

def main():
    global HOT
    a = parse_args()
    HOT = a.hot
    for prog in ("tierdns-upper", "tierdns-local", "tierdns-zone"):
        if not os.access(os.path.join(a.build, prog), os.X_OK):
            say("%s/%s is missing: build first (cmake -S . -B %s && cmake --build %s)"
                % (a.build, prog, a.build, a.build))
            return 2
    if shutil.which("dnsperf") is None:
        say("dnsperf is missing (Debian package dnsperf)")
        return 2
    libs = subprocess.run(["ldd", os.path.join(a.build, "tierdns-local")],
                          capture_output=True, text=True).stdout
    sanitized = "asan" in libs or "tsan" in libs
    tmp = tempfile.mkdtemp(prefix="tierdns-soak.")
    rng = random.Random(20261206)
    up_db, lo_db = os.path.join(tmp, "upper"), os.path.join(tmp, "local")
    zfile = os.path.join(tmp, "soak.zone")
    with open(zfile, "w") as f:
        f.write(zone_text(a.names, 1))
    r = subprocess.run([os.path.join(a.build, "tierdns-zone"), "--db", up_db, "load", zfile],
                       capture_output=True, text=True)
    if r.returncode != 0:
        say("zone load failed: " + r.stderr)
        return 2
    # dnsperf reads its file from the start at every run: each segment
    # gets a fresh draw of the mix (else the same first lines would be
    # the whole load), a little longer than the segment needs.
    mix = os.path.join(tmp, "mix.txt")
    mix_tcp = os.path.join(tmp, "mix-tcp.txt")
    seg_lines = int(a.rate * a.sample * 1.2) + 100
    burst = os.path.join(tmp, "burst.txt")
    with open(burst, "w") as f:
        for i in range(max(20000, a.rate * 10)):
            f.write("never%d-%d.soak. A\n" % (i, rng.randrange(10 ** 9)))

    up = Daemon("upper", [os.path.join(a.build, "tierdns-upper"), "--db", up_db,
                          "--threads", str(a.threads)], free_port(), tmp)
    lo_port = free_port()
    lo = Daemon("local", [os.path.join(a.build, "tierdns-local"), "--db", lo_db,
                          "--threads", str(a.threads), "--cache-size", a.cache_size,
                          "--upstream", "127.0.0.1:%d" % up.port, "--timeout", "1500"],
                lo_port, tmp)
    daemons = (up, lo)
    try:
        up.start()
        lo.start()
    except SystemExit as e:
        say(str(e))
        for d in daemons:
            d.stop()
        return 2
    say("upper on 127.0.0.1:%d, local on 127.0.0.1:%d, scratch %s" % (up.port, lo.port, tmp))

    # Faults, evenly spread after a warm-up of a fifth of the run.
    warm = a.duration / 5
    span = (a.duration - warm) / 5
    faults = []  # (name, start offset)
    for i, name in enumerate(("stop", "kill-up", "kill-lo", "reload", "burst")):
        faults.append((name, warm + i * span + span * 0.2))
    fault_log = []  # (name, t_end, note)

    t0 = time.monotonic()
    prober = Prober(lo.port)
    prober.start()
    stop_all = threading.Event()

    def fault_runner():
        for name, off in faults:
            if stop_all.wait(max(0.0, t0 + off - time.monotonic())):
                return
            say("fault %s at %.0f s" % (name, time.monotonic() - t0))
            if name == "stop":
                up.signal(signal.SIGSTOP)
                time.sleep(4)
                up.signal(signal.SIGCONT)
                fault_log.append((name, time.monotonic(), "upper stopped 4 s"))
            elif name in ("kill-up", "kill-lo"):
                d = up if name == "kill-up" else lo
                d.signal(signal.SIGKILL)
                if d is up:
                    time.sleep(1)
                try:
                    d.start()
                except SystemExit as e:  # said in the table, not lost with the thread
                    say("%s" % e)
                    d.died.append((time.monotonic() - t0, "not restarted"))
                    d.expected_exit = True  # counted once
                    return
                fault_log.append((name, time.monotonic(), "%s killed, restarted" %
                                  ("upper" if d is up else "local")))
            elif name == "reload":
                with open(zfile, "w") as f:
                    f.write(zone_text(a.names, 2))
                r = subprocess.run([os.path.join(a.build, "tierdns-zone"), "--db", up_db,
                                    "load", zfile], capture_output=True, text=True)
                fault_log.append((name, time.monotonic(),
                                  "zone v2 loaded" if r.returncode == 0
                                  else "zone load FAILED: " + r.stderr.strip()))
            elif name == "burst":
                dnsperf(lo.port, burst, 4, a.rate * 2)
                fault_log.append((name, time.monotonic(), "4 s of never-seen names"))

    ft = threading.Thread(target=fault_runner, daemon=True)
    ft.start()

    rows = []
    print("%6s %8s %7s %8s %6s %9s %9s %9s %9s %8s" % (
        "t(s)", "QPS", "lost", "SERVFAIL", "hot%", "up anon", "up PSS", "lo anon", "lo PSS",
        "mdb MiB"), flush=True)
    while time.monotonic() - t0 < a.duration:
        secs = min(a.sample, max(1, int(a.duration - (time.monotonic() - t0))))
        write_queries(mix, a.names, seg_lines, rng)
        write_queries(mix_tcp, a.names, max(100, int(seg_lines * a.tcp_share)), rng)
        res = {}
        tcp_thread = None
        if a.tcp_share > 0:
            def tcp_run():
                res["tcp"] = dnsperf(lo.port, mix_tcp, secs, a.rate * a.tcp_share, tcp=True)
            tcp_thread = threading.Thread(target=tcp_run)
            tcp_thread.start()
        u = dnsperf(lo.port, mix, secs, a.rate * (1 - a.tcp_share))
        if tcp_thread:
            tcp_thread.join()
        t = time.monotonic() - t0
        for d in daemons:
            d.check(t)
        qps = u["qps"] + res.get("tcp", {}).get("qps", 0)
        lost = u["lost"] + res.get("tcp", {}).get("lost", 0)
        sf = u["servfail"] + res.get("tcp", {}).get("servfail", 0)
        probes = [ask(lo.port, "h%d.soak." % rng.randrange(HOT), 0.5, rd=False)
                  for _ in range(100)]
        hot = sum(1 for p in probes if p is not None and p[0] == 0 and p[1])
        ua, upss = up.memory()
        la, lpss = lo.memory()
        try:
            mdb = os.path.getsize(os.path.join(lo_db, "data.mdb")) / 2 ** 20
        except OSError:
            mdb = 0
        rows.append((t, qps, lost, sf, ua, upss, la, lpss, mdb, hot))
        fmt = lambda v: "%9.1f" % v if v is not None else "%9s" % "-"  # noqa: E731
        print("%6.0f %8.0f %7d %8d %6d %s %s %s %s %8.1f" % (
            t, qps, lost, sf, hot, fmt(ua), fmt(upss), fmt(la), fmt(lpss), mdb), flush=True)
    stop_all.set()
    ft.join()
    prober.stop_ev.set()
    prober.join()

    # After the run: once the TTL has passed, local agrees with the upper.
    time.sleep(TTL + 1)
    names = (["h%d.soak." % rng.randrange(HOT) for _ in range(100)] +
             ["n%d.soak." % rng.randrange(a.names) for _ in range(200)] +
             ["c%d.soak." % i for i in range(CHANGED)] +
             ["nx%d.soak." % rng.randrange(10 ** 7) for _ in range(50)])
    mismatches = []
    silent = 0
    for n in names:
        ru, rl = ask(up.port, n, 2.0), ask(lo.port, n, 3.0)
        if ru is None or ru != rl:
            mismatches.append((n, ru, rl))
        silent = silent + 1 if ru is None or rl is None else 0
        if silent == 10:
            say("10 names in a row unanswered: the comparison stops")
            break
    for d in daemons:
        d.check(time.monotonic() - t0)
        d.stop()

    # Verdict.
    ok = True
    print()
    print("faults (recovered: end of the fault to the first never-asked name answered):")
    for name, t_end, note in fault_log:
        rec = prober.recovered_after(t_end)
        good = rec is not None and rec <= a.recover_max
        ok &= good and "FAILED" not in note
        print("  %-8s at %6.0f s  %-26s recovered %s  %s" % (
            name, t_end - t0, note, "%.2f s" % rec if rec is not None else "never",
            "ok" if good else "NOT ok"))
    if len(fault_log) < len(faults):
        ok = False
        print("  only %d of %d faults ran (--duration too short?)" % (len(fault_log), len(faults)))
    died = [(d.name, t, s) for d in daemons for t, s in d.died]
    print("crashes: %s" % (", ".join("%s at %.0f s (status %s)" % x for x in died) or "none"))
    for d in daemons:
        if d.died:  # why: the end of its log (the scratch directory goes)
            d.log.flush()
            with open(d.log_path, "rb") as f:
                tail = f.read().decode(errors="replace").splitlines()[-25:]
            print("  the end of %s's log:\n    %s" % (d.name, "\n    ".join(tail)))
    ok &= not died
    post = [r for r in rows if r[0] >= warm and r[6] is not None]
    if sanitized:
        print("memory: not judged (sanitizer build: quarantine and shadow memory)")
    elif len(post) >= 2:
        # The local restarts at the kill-lo fault: compare within each life,
        # the second one after its own warm-up (a new process fills its
        # buffers and arenas again; that is no growth).
        kill_lo = next((t_end - t0 for n, t_end, _ in fault_log if n == "kill-lo"), None)
        rewarm = (min(RESTART_WARM, (a.duration - kill_lo) / 5) if kill_lo is not None
                  else 0)
        lives = [[r for r in post if kill_lo is None or r[0] < kill_lo],
                 [r for r in post if kill_lo is not None and r[0] > kill_lo + rewarm]]
        growth = max([0.0] + [life[-1][6] - life[0][6] for life in lives if len(life) >= 2])
        mem_ok = growth <= a.mem_slack
        ok &= mem_ok
        print("memory: local anon growth after warm-up %.1f MiB (allowed %.1f) %s" % (
            growth, a.mem_slack, "ok" if mem_ok else "NOT ok"))
    else:
        print("memory: too few samples after warm-up to judge")
    print("answers after the run: %d names compared with the upper, %d differ %s" % (
        len(names), len(mismatches), "ok" if not mismatches else "NOT ok"))
    for n, ru, rl in mismatches[:10]:
        print("  %s upper %s local %s" % (n, ru, rl))
    ok &= not mismatches
    total_lost = sum(r[2] for r in rows)
    total_sf = sum(r[3] for r in rows)
    print("load: %d samples, median %.0f QPS, %d lost, %d SERVFAIL in all (faults included)" % (
        len(rows), sorted(r[1] for r in rows)[len(rows) // 2] if rows else 0, total_lost,
        total_sf))
    if post:
        print("hot-set hit ratio after warm-up: median %d %%, lowest %d %% (RD=0 probes)" % (
            sorted(r[9] for r in post)[len(post) // 2], min(r[9] for r in post)))
    print("verdict: %s" % ("PASS" if ok else "FAIL"))
    if a.keep:
        say("kept %s" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
