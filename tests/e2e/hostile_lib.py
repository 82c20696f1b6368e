"""hostile_lib.py - shared helpers for the hostile end-to-end tests (issue 4).

Each test script runs the real daemons from $TDNS_BUILD on random loopback
addresses (127.a.b.c) and random ports, so tests run in parallel with each
other and with the shell tests. Everything a script starts is stopped by PID
and its temporary directory removed when the script exits, passed or not.

  h = Harness("test_name")            temp dir h.tmp, cleanup at exit
  h.zone_load(db, *files)             tierdns-zone load (must succeed)
  h.zone(db, *args)                   tierdns-zone ARGS -> CompletedProcess
  d = h.start_upper("UPPER", db, ...) Daemon: d.addr d.port d.pid d.log
  d = h.start_local("LOCAL", db, ["ADDR:PORT", ...], ...)
  h.stop(d)                           SIGTERM, expect exit status 0
  h.kill9(d)                          SIGKILL
  h.has_flag(binary, "--flag")        is the option in BINARY --help?
  h.check(cond, msg) / h.case(...)    record a failure, keep going
  h.skip(msg)                         a sub-test that cannot run yet
  h.finish()                          exit 0 pass, 1 fail, 77 all skipped

  FakeUpstream(h, handler)            a scripted upstream on UDP and TCP
  udp_exchange / tcp_exchange / query raw and dnspython exchanges
  control_stats(sock)                 tierdns-control -s SOCK stats as a dict
  servfail_step(h, sock, label, ask, rcode, {reason: delta}, ede)
                                      a query and the SERVFAIL reasons it counts

Requires python3 and python3-dnspython (Debian).
"""
import atexit
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

BUILD = os.environ.get("TDNS_BUILD")
SRC = os.environ.get("TDNS_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
if not BUILD:
    sys.stderr.write("TDNS_BUILD must name the build directory\n")
    sys.exit(2)

UPPER_BIN = os.path.join(BUILD, "tierdns-upper")
LOCAL_BIN = os.path.join(BUILD, "tierdns-local")
ZONE_BIN = os.path.join(BUILD, "tierdns-zone")
CONTROL_BIN = os.path.join(BUILD, "tierdns-control")
ZONES = os.path.join(SRC, "zones")

# Sanitizer reports make the daemon exit non-zero; stop() checks the status.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

SKIP_EXIT = 77


def write(path, text):
    """Write text to path; returns path."""
    with open(path, "w") as f:
        f.write(text)
    return path


def rand_addr():
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254),
                             random.randint(1, 254))


def rand_port():
    return random.randint(20000, 49999)


def wait_for(fn, timeout, step=0.1):
    """Seconds until fn() was true, None when it was not within timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if fn():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def now():
    return time.monotonic()


class Daemon:
    def __init__(self, label, proc, addr, port, log):
        self.label = label
        self.proc = proc
        self.pid = proc.pid
        self.addr = addr
        self.port = port
        self.log = log

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Harness:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="tdns-hostile.")
        self.daemons = []
        self.children = []
        self.failures = 0
        self.passes = 0
        self.skips = 0
        self.closers = []
        atexit.register(self._cleanup)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
        signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
        for b in (UPPER_BIN, LOCAL_BIN, ZONE_BIN):
            if not os.access(b, os.X_OK):
                self.log("missing binary %s" % b)
                sys.exit(1)

    # ---- reporting ----
    def log(self, msg):
        sys.stderr.write("%s: %s\n" % (self.name, msg))
        sys.stderr.flush()

    def check(self, cond, msg):
        """Record one assertion; a failure is printed and the script goes on
        (each case of a table is reported), finish() then exits 1."""
        if cond:
            self.passes += 1
            return True
        self.failures += 1
        self.log("FAIL: %s" % msg)
        return False

    def skip(self, msg):
        self.skips += 1
        self.log("SKIPPED: %s" % msg)

    def show_logs(self):
        for d in self.daemons:
            text = d.log_text().splitlines()[-30:]
            if text:
                sys.stderr.write("----- %s log (last 30 lines) -----\n" % d.label)
                sys.stderr.write("\n".join(text) + "\n")

    def finish(self):
        if self.failures:
            self.show_logs()
            self.log("%d failed, %d passed, %d skipped" %
                     (self.failures, self.passes, self.skips))
            sys.exit(1)
        if self.skips and not self.passes:
            self.log("all %d sub-tests SKIPPED" % self.skips)
            sys.exit(SKIP_EXIT)
        self.log("ok: %d passed, %d skipped" % (self.passes, self.skips))
        sys.exit(0)

    def _cleanup(self):
        for c in self.closers:
            try:
                c()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        for p in self.children + [d.proc for d in self.daemons]:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        subprocess.run(["rm", "-rf", self.tmp], check=False)

    # ---- binaries ----
    def zone(self, db, *args, timeout=60):
        return subprocess.run([ZONE_BIN, "--db", db] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def zone_load(self, db, *files):
        r = self.zone(db, "load", *files)
        if r.returncode != 0:
            self.log("FAIL: tierdns-zone load %s: %s" % (files, r.stdout + r.stderr))
            self.failures += 1
            self.finish()

    _help_cache = {}

    def has_flag(self, binary, flag):
        if binary not in self._help_cache:
            r = subprocess.run([binary, "--help"], capture_output=True, text=True)
            self._help_cache[binary] = r.stdout + r.stderr
        text = self._help_cache[binary]
        return any(w.rstrip(",=") == flag or w.startswith(flag + "=")
                   for w in text.split())

    def need_flag(self, binary, flag, what):
        """A test that needs an option not yet in BINARY --help is skipped
        (exit 77, reported by ctest as skipped), never passed."""
        if not self.has_flag(binary, flag):
            self.skip("%s: %s has no %s option yet" % (what, os.path.basename(binary), flag))
            self.finish()

    def _wait_ready(self, proc, addr, port):
        for _ in range(150):
            if proc.poll() is not None:
                return 1
            try:
                with socket.create_connection((addr, port), timeout=0.2):
                    return 0
            except OSError:
                time.sleep(0.1)
        return 2

    def start(self, label, binary, args, addr=None, port=None):
        log = os.path.join(self.tmp, label + ".log")
        for attempt in range(5):
            a = addr or rand_addr()
            p = port or rand_port()
            with open(log, "ab") as lf:
                proc = subprocess.Popen([binary, "--listen", a, "--port", str(p)] + args,
                                        stdout=lf, stderr=subprocess.STDOUT)
            rc = self._wait_ready(proc, a, p)
            if rc == 0:
                d = Daemon(label, proc, a, p, log)
                self.daemons.append(d)
                return d
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if rc == 2 or (addr and port):
                break
            self.log("%s exited at start on %s:%d (try %d), retrying" %
                     (label, a, p, attempt + 1))
        self.failures += 1
        self.log("FAIL: %s (%s) would not start" % (label, binary))
        self.finish()

    def start_upper(self, label, db, *args, addr=None, port=None):
        return self.start(label, UPPER_BIN, ["--db", db] + list(args), addr, port)

    def start_local(self, label, db, upstreams, *args, addr=None, port=None):
        a = ["--db", db]
        for u in upstreams:
            a += ["--upstream", u]
        return self.start(label, LOCAL_BIN, a + list(args), addr, port)

    def stop(self, d):
        """SIGTERM and expect status 0: a clean shutdown and no sanitizer
        report."""
        if d.proc.poll() is not None:
            self.check(False, "%s died before the end of the test (status %s)" %
                       (d.label, d.proc.returncode))
            return
        os.kill(d.pid, signal.SIGCONT)
        os.kill(d.pid, signal.SIGTERM)
        try:
            rc = d.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            rc = d.proc.wait()
        self.check(rc == 0, "%s exited with status %s after SIGTERM" % (d.label, rc))

    def kill9(self, d):
        if d.proc.poll() is None:
            os.kill(d.pid, signal.SIGKILL)
        d.proc.wait()


# ---- raw exchanges ----

def control_stats(sock):
    """The counters of `tierdns-control -s SOCK stats` as {key: int}
    (empty when the command fails)."""
    r = subprocess.run([CONTROL_BIN, "-s", sock, "stats"], capture_output=True,
                       text=True, timeout=15)
    out = {}
    for line in r.stdout.splitlines():
        k, sep, v = line.partition("=")
        if sep and v.isdigit():
            out[k] = int(v)
    return out


# The SERVFAIL reasons of tierdns-local's statistics (resolve.h enum
# resolver_servfail), in their order: servfail.REASON in control stats.
SERVFAIL_REASONS = ("timeout", "dead", "network", "tls_auth", "rcode", "garbage", "overload",
                    "cached", "loop", "chain", "internal", "store", "referral", "bogus")
EDE_OPTION = 15  # RFC 8914


def servfail_counts(sock):
    """({reason: count} for every SERVFAIL_REASONS, the whole stats dict)."""
    st = control_stats(sock)
    return {r: st.get("servfail." + r) for r in SERVFAIL_REASONS}, st


def servfail_delta(before, after):
    """The reasons that changed between two servfail_counts: {reason: delta}."""
    return {r: after[r] - before[r] for r in SERVFAIL_REASONS if after[r] != before[r]}


def ede_text(m):
    """The EXTRA-TEXT of a reply's Extended DNS Error (None without one)."""
    for o in (m.options if m is not None else ()):
        if o.otype == EDE_OPTION:
            return getattr(o, "text", None)
    return None


def servfail_step(h, sock, label, ask, want_rcode, want, ede=None):
    """ask() -> dns.message or None, against the daemon whose control socket
    is sock; expect rcode want_rcode, the SERVFAIL reasons to grow by want
    ({reason: delta}, every other reason unchanged, answers.servfail by the
    sum) and, if given, ede as the reply's EDE text. Returns the reply."""
    before, st0 = servfail_counts(sock)
    m = ask()
    after, st1 = servfail_counts(sock)
    d = servfail_delta(before, after)
    grown = (st1.get("answers.servfail") or 0) - (st0.get("answers.servfail") or 0)
    h.check(rcode_text(m) == want_rcode, "%s: %s, expected %s" % (label, rcode_text(m), want_rcode))
    h.check(d == want and grown == sum(want.values()),
            "%s: servfail reasons grew by %s (answers.servfail by %d), expected %s"
            % (label, d, grown, want))
    if ede is not None:
        h.check(ede_text(m) == ede, "%s: EDE text %r, expected %r" % (label, ede_text(m), ede))
    return m


def udp_exchange(addr, port, data, timeout=2.0, src=None):
    """Send one datagram, return the first reply (bytes) or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if src:
            s.bind((src, 0))
        s.settimeout(timeout)
        s.sendto(data, (addr, port))
        try:
            msg, _ = s.recvfrom(65535)
            return msg
        except socket.timeout:
            return None
    finally:
        s.close()


def tcp_xfr(d, zone, rdtype="AXFR", serial=None, src=None, timeout=10):
    """Send one AXFR/IXFR over TCP, read messages until the transfer ends
    (the SOA seen twice at the end) or the connection closes."""
    q = dns.message.make_query(zone, rdtype)
    if serial is not None:
        q.authority.append(dns.rrset.from_text(zone, 0, "IN", "SOA",
                                               ". . %d 0 0 0 0" % serial))
    wire = q.to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect((d.addr, d.port))
    s.sendall(struct.pack("!H", len(wire)) + wire)
    msgs = []
    soa_serial = None
    soas = 0
    try:
        while True:
            hdr = recv_exact(s, 2)
            if hdr is None or len(hdr) < 2:
                break
            data = recv_exact(s, struct.unpack("!H", hdr)[0])
            m = dns.message.from_wire(data, xfr=True, one_rr_per_rrset=True)
            msgs.append(m)
            if m.rcode() != 0:
                break
            for rrset in m.answer:
                if rrset.rdtype == dns.rdatatype.SOA:
                    if soa_serial is None:
                        soa_serial = rrset[0].serial
                    if rrset[0].serial == soa_serial:
                        soas += 1
            done = soas >= 2 or (rdtype == "IXFR" and len(msgs) == 1 and
                                 sum(len(r) for r in m.answer) == 1)
            if done:
                break
    finally:
        s.close()
    return msgs


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_exchange(addr, port, data, timeout=2.0, framed=True, src=None):
    """Send data over a fresh TCP connection (with the 2-byte length prefix
    when framed), return the first framed reply or None (closed, timeout)."""
    s = socket.create_connection((addr, port), timeout=timeout,
                                 source_address=(src, 0) if src else None)
    try:
        s.settimeout(timeout)
        s.sendall((struct.pack("!H", len(data)) + data) if framed else data)
        try:
            hdr = recv_exact(s, 2)
            if hdr is None:
                return None
            return recv_exact(s, struct.unpack("!H", hdr)[0])
        except (socket.timeout, ConnectionResetError):
            return None
    finally:
        s.close()


def check_bad_configs(h, conf, table, label):
    """Each (file text, message part) of table written to conf is refused
    by tierdns-local --check-config: status 2, the part and the file's name
    in its error."""
    for text, want in table:
        with open(conf, "w") as f:
            f.write(text)
        r = subprocess.run([LOCAL_BIN, "-c", conf, "--check-config"], capture_output=True,
                           text=True)
        h.check(r.returncode == 2 and want in r.stderr and
                os.path.basename(conf) + ":" in r.stderr,
                "bad %s %r: status %d, %s" % (label, text, r.returncode, r.stderr.strip()))


def make_query(name, rdtype="A", edns=False, rd=True, qid=None):
    q = dns.message.make_query(name, rdtype, use_edns=0 if edns else False)
    if not rd:
        q.flags &= ~dns.flags.RD
    q.id = qid if qid is not None else random.randint(0, 65535)
    return q


def query(d, name, rdtype="A", tcp=False, edns=False, timeout=2.0, rd=True, src=None):
    """One query to a daemon; returns (dns.message or None, seconds)."""
    q = make_query(name, rdtype, edns=edns, rd=rd)
    wire = q.to_wire()
    t0 = now()
    raw = (tcp_exchange(d.addr, d.port, wire, timeout, src=src) if tcp
           else udp_exchange(d.addr, d.port, wire, timeout, src=src))
    dt = now() - t0
    if raw is None:
        return None, dt
    try:
        m = dns.message.from_wire(raw)
    except Exception:  # noqa: BLE001 - an unreadable reply counts as none
        return None, dt
    if m.id != q.id:
        return None, dt
    return m, dt


def rcode_text(m):
    return "NONE" if m is None else dns.rcode.to_text(m.rcode())


def answer_addrs(m, name=None):
    """The A/AAAA addresses in the answer section (owner name if given)."""
    out = set()
    if m is None:
        return out
    for rrset in m.answer:
        if name is not None and rrset.name != dns.name.from_text(name):
            continue
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            out.update(r.address for r in rrset)
    return out


# ---- a scripted upstream ----

class Seen:
    """One query as the fake upstream received it."""

    def __init__(self, msg, raw, peer, tcp):
        self.msg = msg
        self.raw = raw
        self.peer = peer
        self.tcp = tcp
        self.time = now()
        q = msg.question[0] if msg is not None and msg.question else None
        self.qname_raw = q.name.to_text() if q is not None else ""
        self.qname = self.qname_raw.lower()
        self.qtype = q.rdtype if q is not None else None
        self.id = msg.id if msg is not None else None


class FakeUpstream:
    """A DNS server on one random loopback address, UDP and TCP on the same
    port. For every query, handler(up, seen) returns a list of actions:
      ("send", bytes)        reply on the socket the query came in on
      ("send_other", bytes)  reply over UDP from another port
      ("send_other_addr", bytes)  reply over UDP from another address
      ("sleep", seconds)
    None or [] sends nothing (silence). Each query is appended to up.seen.
    port: the port to listen on (0: one the kernel picks; 53, where a
    referral's glue points, needs root)."""

    def __init__(self, h, handler, port=0):
        self.h = h
        self.handler = handler
        self.seen = []
        self.lock = threading.Lock()
        self.sent_at = {}
        self.stopped = False
        for _ in range(10):
            self.addr = rand_addr()
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind((self.addr, port))
            self.port = self.tcp.getsockname()[1]
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.udp.bind((self.addr, self.port))
                break
            except OSError:
                self.tcp.close()
                self.udp.close()
        self.tcp.listen(64)
        self.endpoint = "%s:%d" % (self.addr, self.port)
        h.closers.append(self.close)
        threading.Thread(target=self._udp_loop, daemon=True).start()
        threading.Thread(target=self._tcp_loop, daemon=True).start()

    def close(self):
        self.stopped = True
        for s in (self.udp, self.tcp):
            try:
                s.close()
            except OSError:
                pass

    def queries(self, qname=None):
        with self.lock:
            return [s for s in self.seen
                    if qname is None or s.qname == qname.lower().rstrip(".") + "."]

    def count(self, qname=None):
        return len(self.queries(qname))

    def _record(self, raw, peer, tcp):
        try:
            msg = dns.message.from_wire(raw)
        except Exception:  # noqa: BLE001 - junk to the upstream is ignored
            msg = None
        s = Seen(msg, raw, peer, tcp)
        with self.lock:
            self.seen.append(s)
        return s

    def _run(self, s, reply_udp, reply_tcp):
        try:
            actions = self.handler(self, s) or []
        except Exception as e:  # noqa: BLE001 - a handler bug fails the test
            self.h.check(False, "fake upstream handler raised %r" % e)
            return
        for a in actions:
            if self.stopped:
                return
            kind, arg = a
            if kind == "sleep":
                time.sleep(arg)
            elif kind == "send":
                # noted before sending: the reply may be acted on at once
                with self.lock:
                    self.sent_at[s.qname] = now()
                (reply_tcp or reply_udp)(arg)
            elif kind in ("send_other", "send_other_addr"):
                # from another port of our address, or from our port on
                # another address
                o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                o.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    o.bind((self.addr, 0) if kind == "send_other"
                           else (rand_addr(), self.port))
                    o.sendto(arg, s.peer)
                except OSError:
                    pass
                o.close()

    def _udp_loop(self):
        while not self.stopped:
            try:
                raw, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            s = self._record(raw, peer, False)

            def send(data, peer=peer):
                try:
                    self.udp.sendto(data, peer)
                except OSError:
                    pass
            threading.Thread(target=self._run, args=(s, send, None),
                             daemon=True).start()

    def _tcp_conn(self, conn, peer):
        with conn:
            conn.settimeout(10)
            while not self.stopped:
                try:
                    hdr = recv_exact(conn, 2)
                    if hdr is None:
                        return
                    raw = recv_exact(conn, struct.unpack("!H", hdr)[0])
                    if raw is None:
                        return
                except OSError:
                    return
                s = self._record(raw, peer, True)

                def send(data):
                    try:
                        conn.sendall(struct.pack("!H", len(data)) + data)
                    except OSError:
                        pass
                self._run(s, None, send)

    def _tcp_loop(self):
        while not self.stopped:
            try:
                conn, peer = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn, peer),
                             daemon=True).start()


def reply(seen, answer=(), authority=(), additional=(), rcode=0, tc=False,
          aa=True):
    """A reply to seen's query (same ID, question as asked); records are
    master-file text lines. Returns wire bytes."""
    r = dns.message.make_response(seen.msg)
    r.set_rcode(rcode)
    if aa:
        r.flags |= dns.flags.AA
    if tc:
        r.flags |= dns.flags.TC
    for section, lines in ((r.answer, answer), (r.authority, authority),
                           (r.additional, additional)):
        for line in lines:
            f = line.split()
            rrs = dns.rrset.from_text(f[0], int(f[1]), f[2], f[3], " ".join(f[4:]))
            section.append(rrs)
    return r.to_wire()


def dead_endpoint():
    """ADDR:PORT where nothing listens: a port just bound and released, so
    a datagram to it draws an ICMP port unreachable."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((rand_addr(), 0))
    addr, port = s.getsockname()
    s.close()
    return "%s:%d" % (addr, port)


def a_reply(seen, addr, ttl=300):
    """A NOERROR reply with one A record for the question."""
    return reply(seen, answer=["%s %d IN A %s" % (seen.qname_raw, ttl, addr)])


def dump_cache(h, db):
    """tierdns-zone dump of a local tier's store: (text, records) where
    records are the non-comment lines split on whitespace."""
    r = h.zone(db, "dump")
    recs = [ln.split() for ln in r.stdout.splitlines()
            if ln.strip() and not ln.startswith(";")]
    return r, recs


def cached_names(recs):
    return {f[0].lower() for f in recs if f}


class ScriptedPrimary:
    """A primary of zone `zone` on a random loopback address: answers SOA
    queries over UDP with serial `serial`; over TCP sends the first message
    of the AXFR/IXFR (SOA serial + records(serial), rrsets in master-file
    text, "NAME TTL IN TYPE RDATA") and closes when `cut`, else the whole
    zone. `up` False: silent. `trickle` > 0: after that first message, one
    more record (tN.ZONE A) a message every `trickle` seconds, the closing
    SOA only once trickle is 0 again (at most 60 s)."""

    def __init__(self, serial, expire=86400, refresh=1, keyring=None, zone="cut.",
                 records=None):
        self.serial = serial
        self.zone = zone
        self.records = records or (lambda serial: [
            "cut. 300 IN NS ns1.cut.", "ns1.cut. 300 IN A 192.0.2.%d" % serial])
        self.keyring = keyring  # queries verified and answers signed with it
        self.soa_signed = []    # per UDP SOA query: did it carry a TSIG
        self.expire = expire
        self.refresh = refresh
        self.cut = True
        self.up = True
        self.ixfr = None
        self.asked = []
        self.stall = 0  # seconds a cut transfer stays open before the close
        self.one_per_msg = False  # an IXFR sent one record a message
        self.trickle = 0
        self.addr = rand_addr()
        self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.u.bind((self.addr, 0))
        self.port = self.u.getsockname()[1]
        self.t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.t.bind((self.addr, self.port))
        self.t.listen(8)
        for fn in (self.udp, self.tcp):
            threading.Thread(target=fn, daemon=True).start()

    def soa(self):
        return dns.rrset.from_text(self.zone, 300, "IN", "SOA",
                                   "ns1.%s hm.%s %d %d 1 %d 300" % (
                                       self.zone, self.zone, self.serial, self.refresh,
                                       self.expire))

    def udp(self):
        while True:
            data, peer = self.u.recvfrom(4096)
            if not self.up:
                continue
            try:
                q = dns.message.from_wire(data, keyring=self.keyring)
            except Exception:  # noqa: BLE001 - a bad TSIG: no answer
                self.soa_signed.append("bad")
                continue
            self.soa_signed.append(q.had_tsig)
            r = dns.message.make_response(q)
            r.flags |= 0x400
            r.answer.append(self.soa())
            self.u.sendto(r.to_wire(), peer)

    def trickled(self, c, q):
        end = time.monotonic() + 60
        i = 0
        while self.trickle and time.monotonic() < end:
            time.sleep(self.trickle)
            m = dns.message.make_response(q)
            m.flags |= 0x400
            m.answer.append(dns.rrset.from_text("t%d.%s" % (i, self.zone), 300, "IN", "A",
                                                "192.0.2.9"))
            w = m.to_wire()
            c.sendall(struct.pack("!H", len(w)) + w)
            i += 1
        m = dns.message.make_response(q)
        m.flags |= 0x400
        m.answer.append(self.soa())
        w = m.to_wire()
        c.sendall(struct.pack("!H", len(w)) + w)

    def tcp(self):
        while True:
            c, _ = self.t.accept()
            try:
                n = struct.unpack("!H", recv_exact(c, 2))[0]
                q = dns.message.from_wire(recv_exact(c, n), keyring=self.keyring)
                r = dns.message.make_response(q)
                r.flags |= 0x400
                qtype = q.question[0].rdtype
                self.asked.append(dns.rdatatype.to_text(qtype))
                diff = None
                if qtype == dns.rdatatype.IXFR and self.ixfr is not None:
                    diff = self.ixfr(q.authority[0][0].serial)
                if diff is not None:
                    msgs = []
                    for text in diff:
                        if self.one_per_msg or not msgs:
                            msgs.append(dns.message.make_response(q))
                            msgs[-1].flags |= 0x400
                        f = text.split(None, 4)
                        msgs[-1].answer.append(dns.rrset.from_text(f[0], int(f[1]), f[2],
                                                                   f[3], f[4]))
                    for m in msgs:
                        w = m.to_wire()
                        c.sendall(struct.pack("!H", len(w)) + w)
                    time.sleep(0.2)
                    c.close()
                    continue
                r.answer.append(self.soa())
                for text in self.records(self.serial):
                    f = text.split(None, 4)
                    r.answer.append(dns.rrset.from_text(f[0], int(f[1]), f[2], f[3], f[4]))
                trickle = self.trickle
                if not self.cut and not trickle:
                    r.answer.append(self.soa())
                w = r.to_wire()
                c.sendall(struct.pack("!H", len(w)) + w)
                if trickle:
                    self.trickled(c, q)
                time.sleep(0.2 if not self.cut else self.stall)
            except Exception:  # noqa: BLE001 - a test peer
                pass
            c.close()
