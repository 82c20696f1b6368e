#!/usr/bin/python3
"""DNS over TLS listeners on both tiers (issue 17, RFC 7858).

A test CA and a server certificate for dns.test (and 127.0.0.1) are made
with openssl at test time. Both tiers get --tls-listen; the local forwards
to the upper over clear UDP. For each tier:
  - kdig +tls and dig +tls answer correctly with verification on
    (+tls-ca, +tls-hostname), and fail against the wrong hostname;
  - TLS 1.3 is negotiated; TLS 1.2 is accepted;
  - 24 queries written at once on one connection are all answered, each
    matching its question (pipelining, RFC 7766 6.2.1.1);
  - encrypted answers to EDNS queries carry Padding to a multiple of 468
    bytes (RFC 8467), clear TCP answers do not;
  - a second connection resumes the first one's session (TLS 1.3 ticket,
    and TLS 1.2);
  - the malformed-input table: clear DNS, garbage, truncated and stalled
    handshakes, garbage TLS records after a handshake, garbage and cut
    frames inside the session; after each the server still answers over
    TLS and UDP;
  - idle connections and stalled handshakes are closed after --tcp-idle;
    over --max-tcp-per-client the least recently active idle connection
    makes room, as on TCP;
  - SIGHUP loads a new certificate for new connections (old ones go on);
    an unreadable one is refused, logged, and the last good one stays;
  - both exit 0 on SIGTERM (no sanitizer report).
"""
import os
import random
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402
import tls_lib as tl  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

h = hl.Harness("test_tls")
NAME = "dns.test"
IDLE_MS = 2000
# How long past a deadline a close may come and still count: an outer bound
# for a loaded machine (a check returns as soon as the close is seen).
SLACK = 15

pki = tl.Pki(h.tmp)
cert0, key0 = pki.server(NAME)
# The files the daemons read: replaced in place for the reload case.
CERT = os.path.join(h.tmp, "server.pem")
KEY = os.path.join(h.tmp, "server.key")
shutil.copy(cert0, CERT)
shutil.copy(key0, KEY)

udb = os.path.join(h.tmp, "upper")
ldb = os.path.join(h.tmp, "local")
h.zone_load(udb, os.path.join(hl.ZONES, "upper", "root.zone"),
            os.path.join(hl.ZONES, "upper", "site.zone"))


def tls_args(addr, port):
    return ["--tls-listen", "%s:%d" % (addr, port), "--tls-cert", CERT,
            "--tls-key", KEY, "--tcp-idle", str(IDLE_MS),
            "--max-tcp-per-client", "4", "-t", "2"]


ua = hl.rand_addr()
utp = tl.free_port(ua)
usock, lsock = os.path.join(h.tmp, "upper.sock"), os.path.join(h.tmp, "local.sock")
upper = h.start_upper("UPPER", udb, *tls_args(ua, utp), "--control", usock, addr=ua)
upper.tls_port = utp
la = hl.rand_addr()
ltp = tl.free_port(la)
local = h.start_local("LOCAL", ldb, ["%s:%d" % (upper.addr, upper.port)],
                      *tls_args(la, ltp), "--control", lsock, addr=la)
local.tls_port = ltp
for d in (upper, local):
    h.check(tl.wait_listening(d.addr, d.tls_port),
            "%s: TLS port %d not listening" % (d.label, d.tls_port))

# qname -> the addresses of its answer (site.zone)
EXPECT = {
    "webapp.site.": {"192.0.2.10"},
    "api.site.": {"192.0.2.20", "192.0.2.21", "192.0.2.22"},
    "www.site.": {"192.0.2.10"},
    "ns1.site.": {"192.0.2.1"},
}


def dot_query(d, name, rdtype="A", edns=True, ctx=None):
    """One query on a fresh verified TLS connection: (message or None, socket
    version string)."""
    q = hl.make_query(name, rdtype, edns=edns)
    try:
        s = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME, ctx=ctx)
    except (OSError, ssl.SSLError) as e:
        h.log("%s: TLS connect: %s" % (d.label, e))
        return None, None
    with s:
        tl.tls_send(s, q.to_wire())
        raw = tl.tls_recv(s)
        ver = s.version()
    if raw is None:
        return None, ver
    m = dns.message.from_wire(raw)
    return (m if m.id == q.id else None), ver


def alive(d, what):
    """The server still answers over TLS and over UDP."""
    m, _ = dot_query(d, "webapp.site")
    h.check(m is not None and hl.answer_addrs(m) == EXPECT["webapp.site."],
            "%s after %s: no correct DoT answer" % (d.label, what))
    m, _ = hl.query(d, "webapp.site")
    h.check(m is not None and hl.answer_addrs(m) == EXPECT["webapp.site."],
            "%s after %s: no correct UDP answer" % (d.label, what))
    h.check(d.alive(), "%s died after %s" % (d.label, what))


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=20)


# ---- statistics: a DoT query is a stream (tcp) query, answered at once or
# from upstream ----
def transports(sock):
    st = hl.control_stats(sock)
    return st.get("queries.udp"), st.get("queries.tcp")


u0, l0 = transports(usock), transports(lsock)
m, _ = dot_query(upper, "webapp.site")
h.check(m is not None and transports(usock) == (u0[0], u0[1] + 1),
        "upper: a DoT query counted as tcp: %s -> %s" % (u0, transports(usock)))
for what in ("a miss", "a cache hit"):
    m, _ = dot_query(local, "ns1.site")
    h.check(hl.answer_addrs(m) == EXPECT["ns1.site."], "local: DoT %s answered" % what)
l1 = transports(lsock)
h.check(l1 == (l0[0], l0[1] + 2),
        "local: a DoT miss and a DoT cache hit counted as tcp: %s -> %s" % (l0, l1))


# ---- real clients with verification on ----

def test_clients(d):
    tgt = ["@" + d.addr, "-p", str(d.tls_port)]
    if shutil.which("kdig"):
        r = run(["kdig"] + tgt + ["+tls-ca=" + pki.ca, "+tls-hostname=" + NAME,
                                  "webapp.site", "A", "+short"])
        h.check(r.returncode == 0 and r.stdout.split() == ["192.0.2.10"],
                "%s: kdig +tls: rc %d, %r %r" % (d.label, r.returncode, r.stdout, r.stderr))
        r = run(["kdig"] + tgt + ["+tls-ca=" + pki.ca, "+tls-hostname=wrong.test",
                                  "webapp.site", "A", "+short"])
        h.check("192.0.2.10" not in r.stdout,
                "%s: kdig accepted the certificate for the wrong name" % d.label)
    else:
        h.skip("kdig (knot-dnsutils) not installed")
    r = run(["dig"] + tgt + ["+tls", "+tls-ca=" + pki.ca, "+tls-hostname=" + NAME,
                             "webapp.site", "A", "+short", "+tries=1", "+time=3"])
    h.check(r.returncode == 0 and r.stdout.split() == ["192.0.2.10"],
            "%s: dig +tls: rc %d, %r %r" % (d.label, r.returncode, r.stdout, r.stderr))
    r = run(["dig"] + tgt + ["+tls", "+tls-ca=" + pki.ca, "+tls-hostname=wrong.test",
                             "webapp.site", "A", "+short", "+tries=1", "+time=3"])
    h.check("192.0.2.10" not in r.stdout,
            "%s: dig accepted the certificate for the wrong name" % d.label)


# ---- versions, pipelining, padding, resumption ----

def test_protocol(d):
    m, ver = dot_query(d, "webapp.site")
    h.check(ver == "TLSv1.3", "%s: negotiated %s, not TLS 1.3" % (d.label, ver))
    m, ver = dot_query(d, "webapp.site", ctx=tl.client_ctx(pki.ca, tls13=False))
    h.check(m is not None and ver == "TLSv1.2",
            "%s: TLS 1.2 client not served (%s)" % (d.label, ver))

    # Pipelining: every query written before any answer is read.
    names = list(EXPECT) * 6
    random.shuffle(names)
    qs = {}
    for i, n in enumerate(names):
        q = hl.make_query(n, "A", edns=(i % 3 != 0))
        q.id = 1000 + i
        qs[q.id] = q
    s = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME, timeout=5)
    with s:
        s.sendall(b"".join(struct.pack("!H", len(w)) + w
                           for w in (q.to_wire() for q in qs.values())))
        got = {}
        for _ in qs:
            raw = tl.tls_recv(s)
            if raw is None:
                break
            got[dns.message.from_wire(raw).id] = raw
    h.check(set(got) == set(qs), "%s: pipelined: %d of %d answered" %
            (d.label, len(got), len(qs)))
    for qid, raw in got.items():
        m = dns.message.from_wire(raw)
        q = qs[qid]
        qn = q.question[0].name.to_text()
        h.check(m.question[0].name == q.question[0].name and
                hl.answer_addrs(m) == EXPECT[qn],
                "%s: pipelined answer %d for %s wrong: %s" % (d.label, qid, qn, m))
        if q.edns >= 0:
            h.check(tl.has_padding(m) and len(raw) % 468 == 0,
                    "%s: encrypted answer of %d bytes not padded to 468" %
                    (d.label, len(raw)))
        else:
            h.check(m.edns < 0, "%s: OPT in the answer to a query without" % d.label)

    m, _ = hl.query(d, "webapp.site", tcp=True, edns=True)
    h.check(m is not None and not tl.has_padding(m),
            "%s: a clear TCP answer is padded" % d.label)
    m, _ = hl.query(d, "webapp.site", edns=True)
    h.check(m is not None and not tl.has_padding(m),
            "%s: a UDP answer is padded" % d.label)

    # Resumption, TLS 1.3 (ticket) and TLS 1.2.
    for tls13 in (True, False):
        ctx = tl.client_ctx(pki.ca, tls13=tls13)
        s1 = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME, ctx=ctx)
        tl.tls_send(s1, hl.make_query("webapp.site", "A").to_wire())
        tl.tls_recv(s1)  # TLS 1.3 tickets arrive after the handshake
        sess = s1.session
        s1.close()
        s2 = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME, ctx=ctx, session=sess)
        q = hl.make_query("webapp.site", "A")
        tl.tls_send(s2, q.to_wire())
        raw = tl.tls_recv(s2)
        h.check(s2.session_reused, "%s: %s session not resumed" %
                (d.label, "TLS 1.3" if tls13 else "TLS 1.2"))
        h.check(raw is not None and dns.message.from_wire(raw).id == q.id,
                "%s: no answer on a resumed session" % d.label)
        s2.close()


# ---- malformed input ----

def client_hello():
    """The bytes of a real ClientHello (what a handshake sends first)."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tl.client_ctx(pki.ca).wrap_bio(inc, out, server_hostname=NAME)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def raw_send_then(d, data, then):
    """Send data on a plain TCP connection to the TLS port; then 'close' at
    once or 'wait' to be closed. Returns whether the server closed it."""
    s = socket.create_connection((d.addr, d.tls_port), timeout=3)
    with s:
        if data:
            s.sendall(data)
        if then == "close":
            return True
        return tl.closed_within(s, IDLE_MS / 1000 + SLACK)


def after_handshake(d, action):
    """A verified handshake, then action(tls_socket, raw_socket)."""
    s = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME)
    raw = socket.socket(fileno=os.dup(s.fileno()))
    try:
        return action(s, raw)
    finally:
        raw.close()
        s.close()


def garbage_records(s, raw):
    # Application data records the session cannot decrypt (bad MAC).
    raw.sendall(b"\x17\x03\x03\x00\x40" + os.urandom(64))
    return tl.closed_within(s, SLACK)


def framed_garbage_then_query(s, raw):
    # Inside the session, frames that are not DNS queries: the answers
    # are FORMERR or nothing, as on TCP, and the stream goes on.
    tl.tls_send(s, os.urandom(7))
    tl.tls_send(s, struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01")
    q = hl.make_query("api.site", "A")
    tl.tls_send(s, q.to_wire())
    for _ in range(3):
        raw_msg = tl.tls_recv(s)
        if raw_msg is None:
            return False
        m = dns.message.from_wire(raw_msg, ignore_trailing=True) \
            if len(raw_msg) >= 12 else None
        if m is not None and m.id == q.id:
            return hl.answer_addrs(m) == EXPECT["api.site."]
    return False


def cut_frame(s, raw):
    # A frame announcing 300 bytes of which 20 come, then close_notify.
    s.sendall(struct.pack("!H", 300) + os.urandom(20))
    return True


def test_malformed(d):
    ch = client_hello()
    table = [
        ("clear DNS over TCP on the TLS port",
         lambda: raw_send_then(d, struct.pack("!H", 29) +
                               hl.make_query("webapp.site").to_wire()[:29], "wait"), True),
        ("4 KiB of random bytes", lambda: raw_send_then(d, os.urandom(4096), "wait"), True),
        ("a TLS record header announcing 16 KiB, then close",
         lambda: raw_send_then(d, b"\x16\x03\x01\x40\x00" + os.urandom(100), "close"), True),
        ("half a ClientHello, then close",
         lambda: raw_send_then(d, ch[:len(ch) // 2], "close"), True),
        ("half a ClientHello, then silence (closed after --tcp-idle)",
         lambda: raw_send_then(d, ch[:len(ch) // 2], "wait"), True),
        ("connect and say nothing (closed after --tcp-idle)",
         lambda: raw_send_then(d, b"", "wait"), True),
        ("a ClientHello then garbage",
         lambda: raw_send_then(d, ch + os.urandom(512), "wait"), True),
        ("undecryptable records after the handshake",
         lambda: after_handshake(d, garbage_records), True),
        ("garbage frames inside the session, then a query",
         lambda: after_handshake(d, framed_garbage_then_query), True),
        ("a cut frame inside the session, then close",
         lambda: after_handshake(d, cut_frame), True),
    ]
    for label, fn, want in table:
        try:
            got = fn()
        except (OSError, ssl.SSLError) as e:
            got = "error %r" % e
        h.check(got == want, "%s: %s: got %r" % (d.label, label, got))
        alive(d, label)


# ---- idle timeout and connection limits ----

def test_limits(d):
    s = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME)
    tl.tls_send(s, hl.make_query("webapp.site").to_wire())
    h.check(tl.tls_recv(s) is not None, "%s: no answer before idling" % d.label)
    t0 = time.monotonic()
    closed = tl.closed_within(s, IDLE_MS / 1000 + SLACK)
    h.check(closed and time.monotonic() - t0 >= IDLE_MS / 1000 * 0.2,
            "%s: idle TLS connection not closed after --tcp-idle" % d.label)
    s.close()

    # --max-tcp-per-client 4 per worker: with 2 workers, 2 * 4 + 1 idle
    # connections from one address leave at least one evicted, and the
    # newest always works.
    conns = []
    for _ in range(9):
        c = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME)
        conns.append(c)
        time.sleep(0.05)
    q = hl.make_query("webapp.site")
    tl.tls_send(conns[-1], q.to_wire())
    raw = tl.tls_recv(conns[-1])
    h.check(raw is not None and dns.message.from_wire(raw).id == q.id,
            "%s: the newest connection over the cap got no answer" % d.label)
    evicted = sum(1 for c in conns[:-1] if tl.closed_within(c, 0.5))
    h.check(evicted >= 1, "%s: no idle connection evicted over the cap" % d.label)
    for c in conns:
        c.close()


# ---- certificate reload ----

def serial_of(d):
    s = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME)
    with s:
        return int(s.getpeercert()["serialNumber"], 16)


def test_reload(d, new_cert, new_key):
    before = serial_of(d)
    old = tl.tls_connect(d.addr, d.tls_port, pki.ca, NAME, timeout=5)
    shutil.copy(new_cert, CERT)
    shutil.copy(new_key, KEY)
    os.kill(d.pid, signal.SIGHUP)
    after = before
    for _ in range(50):
        after = serial_of(d)
        if after != before:
            break
        time.sleep(0.1)
    want = int(subprocess.run(["openssl", "x509", "-noout", "-serial", "-in", new_cert],
                              capture_output=True, text=True).stdout.split("=")[1], 16)
    h.check(after == want, "%s: after SIGHUP serial %x, want %x" % (d.label, after, want))
    q = hl.make_query("webapp.site")
    tl.tls_send(old, q.to_wire())
    raw = tl.tls_recv(old)
    h.check(raw is not None, "%s: a connection from before the reload stopped" % d.label)
    old.close()

    # An unreadable certificate: refused, logged, the last good one stays.
    with open(CERT, "w") as f:
        f.write("not a certificate\n")
    os.kill(d.pid, signal.SIGHUP)
    time.sleep(0.5)
    h.check("reload failed" in d.log_text(), "%s: bad certificate reload not logged" % d.label)
    h.check(serial_of(d) == want, "%s: bad reload changed the certificate" % d.label)
    alive(d, "a failed reload")


for d in (upper, local):
    test_clients(d)
    test_protocol(d)
    test_malformed(d)
    test_limits(d)

# A miss answered later (deferred) is padded too.
m, _ = dot_query(local, "ns1.site")
h.check(m is not None and hl.answer_addrs(m) == EXPECT["ns1.site."] and tl.has_padding(m),
        "local: forwarded DoT answer missing or unpadded: %s" % m)

cert1, key1 = pki.server(NAME)
test_reload(upper, cert1, key1)
shutil.copy(cert0, CERT)
shutil.copy(key0, KEY)
cert2, key2 = pki.server(NAME)
test_reload(local, cert2, key2)

h.stop(local)
h.stop(upper)
h.finish()
