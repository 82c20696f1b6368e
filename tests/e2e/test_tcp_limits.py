#!/usr/bin/python3
"""TCP limits of tierdns-upper (issue 4, "Access and resource limits", and
issue 18, "Connection pressure"): --max-tcp-per-client 2 lets one client
address hold two connections; its third takes the place of its least
recently active idle one (closed by the server), and a client on another
address is still served. An idle flood (more connections from one address
than its cap, and from many addresses more than --max-tcp) cannot lock out a
new connection from the flooding address (NAT) or from another: both are
answered within a second. --tcp-idle closes an idle connection after the
given time (RFC 7766 6.2.3) instead of the 10 s default.

One worker thread, so one listener (whose limits these are) takes every
connection. Clients bind random 127.a.b.c source addresses."""
import os
import socket
import struct
import subprocess
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_tcp_limits")
NAME, ADDR = "webapp.site.", "192.0.2.10"
db = os.path.join(h.tmp, "upper")
h.zone_load(db, os.path.join(hl.ZONES, "upper", "site.zone"))


def connect(d, src):
    s = socket.create_connection((d.addr, d.port), timeout=3, source_address=(src, 0))
    s.settimeout(3)
    return s


def ask(s):
    """One query on an open connection: True if the right answer came."""
    q = hl.make_query(NAME)
    wire = q.to_wire()
    try:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        hdr = hl.recv_exact(s, 2)
        if hdr is None:
            return False
        raw = hl.recv_exact(s, struct.unpack("!H", hdr)[0])
    except OSError:
        return False
    if raw is None:
        return False
    m = hl.dns.message.from_wire(raw)
    return m.id == q.id and hl.answer_addrs(m, NAME) == {ADDR}


def closed_by_server(s):
    """(closed, seconds): EOF or reset from the server, not our timeout."""
    t0 = hl.now()
    try:
        closed = s.recv(1) == b""
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    return closed, hl.now() - t0


src_a = hl.rand_addr()
src_b = hl.rand_addr()
while src_b == src_a:
    src_b = hl.rand_addr()

# --- per-client cap; a long idle timeout so only the cap can close ---
up = h.start_upper("UPPER", db, "--threads", "1", "--max-tcp-per-client", "2",
                   "--tcp-idle", "60000")
a1 = connect(up, src_a)
a2 = connect(up, src_a)
h.check(ask(a1) and ask(a2), "two connections from %s are served" % src_a)
a3 = connect(up, src_a)
h.check(ask(a3), "a third connection from %s is served" % src_a)
closed, dt = closed_by_server(a1)
h.check(closed and dt < 1.0,
        "it took the place of the least recently active one (closed %s after %.2f s)" %
        (closed, dt))
h.check(ask(a2), "the other connection from %s is still served" % src_a)
m, dt = hl.query(up, NAME, tcp=True, timeout=3, src=src_b)
h.check(hl.answer_addrs(m, NAME) == {ADDR},
        "a client on %s is answered over TCP: %s after %.2f s" %
        (src_b, hl.rcode_text(m), dt))
h.check(ask(a2) and ask(a3), "the two connections from %s still work" % src_a)
for s in (a1, a2, a3):
    s.close()
# A slot freed by a closed connection can be taken again.
a4 = connect(up, src_a)
ok = False
for _ in range(20):  # the server sees the closes asynchronously
    if ask(a4):
        ok = True
        break
    a4.close()
    time.sleep(0.1)
    a4 = connect(up, src_a)
h.check(ok, "after closing its connections %s is served again" % src_a)
a4.close()
h.check(up.alive(), "tierdns-upper lives")
h.stop(up)
h.check("idle tcp connections closed to make room" in up.log_text(),
        "the evictions are counted in the shutdown log")

# --- an idle flood: 40 connections from one address (cap 16), then 30 from
# many addresses into a listener of 32; newcomers are answered at once ---
up = h.start_upper("UPPER_FLOOD", db, "--threads", "1", "--max-tcp", "32",
                   "--tcp-idle", "60000")
flood = []
for _ in range(40):
    flood.append(connect(up, src_a))
for _ in range(30):
    flood.append(connect(up, hl.rand_addr()))
time.sleep(0.3)
for who, src in (("the flooding address", src_a), ("another address", src_b)):
    t0 = hl.now()
    s = connect(up, src)
    ok = ask(s)
    dt = hl.now() - t0
    h.check(ok and dt < 1.0, "a new connection from %s is answered in %.2f s" % (who, dt))
    s.close()
for s in flood:
    s.close()
h.check(up.alive(), "tierdns-upper lives")
h.stop(up)

# --- RFC 7828: the idle timeout is advertised to a client that asks, over
# TCP only, and shortened once 3/4 of --max-tcp are taken ---
def keepalive(d, tcp, src):
    """The edns-tcp-keepalive TIMEOUT (100 ms units) of the reply, or None."""
    q = hl.dns.message.make_query(NAME, "A", use_edns=0,
                                  options=[hl.dns.edns.GenericOption(11, b"")])
    raw = (hl.tcp_exchange(d.addr, d.port, q.to_wire(), 3, src=src) if tcp
           else hl.udp_exchange(d.addr, d.port, q.to_wire(), 3, src=src))
    m = hl.dns.message.from_wire(raw)
    for o in m.options:
        if o.otype == 11:
            data = o.to_wire()
            return struct.unpack("!H", data)[0] if len(data) == 2 else -1
    return None


up = h.start_upper("UPPER_KEEPALIVE", db, "--threads", "1", "--max-tcp", "8",
                   "--tcp-idle", "60000")
h.check(keepalive(up, True, src_a) == 600, "over TCP the 60 s idle timeout is advertised")
h.check(keepalive(up, False, src_a) is None, "over UDP no keepalive option is sent")
r = subprocess.run(["dig", "@" + up.addr, "-p", str(up.port), NAME, "+tcp", "+keepalive"],
                   capture_output=True, text=True, timeout=10)
h.check("TCP KEEPALIVE: 60.0 secs" in r.stdout, "dig +tcp +keepalive shows it")
held = [connect(up, hl.rand_addr()) for _ in range(6)]
time.sleep(0.2)
h.check(keepalive(up, True, src_b) == 150,
        "with 7 of 8 connections taken a quarter (15 s) is advertised")
for s in held:
    s.close()
h.stop(up)

# --- the idle timeout is the configured one ---
up = h.start_upper("UPPER_IDLE", db, "--threads", "1", "--tcp-idle", "300")
s = connect(up, src_a)
h.check(ask(s), "a query on the idle-test connection is answered")
s.settimeout(5)
closed, dt = closed_by_server(s)
h.check(closed and 0.2 < dt < 5.0,
        "--tcp-idle 300 closes an idle connection (closed %s after %.2f s)" % (closed, dt))
s.close()
h.stop(up)
h.finish()
