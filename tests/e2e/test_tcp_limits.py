#!/usr/bin/python3
"""TCP limits of tierdns-upper (issue 4, "Access and resource limits"):
--max-tcp-per-client 2 lets one client address hold two connections; its
third is closed by the server at once, while the two it has and a client on
another address are still served. --tcp-idle closes an idle connection after
the given time (RFC 7766 6.2.3) instead of the 10 s default.

One worker thread, so one listener (whose limits these are) takes every
connection. Clients bind random 127.a.b.c source addresses."""
import os
import socket
import struct
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
closed, dt = closed_by_server(a3)
h.check(closed and dt < 1.0,
        "the third connection from %s is closed at once (closed %s after %.2f s)" %
        (src_a, closed, dt))
m, dt = hl.query(up, NAME, tcp=True, timeout=3, src=src_b)
h.check(hl.answer_addrs(m, NAME) == {ADDR},
        "a client on %s is answered over TCP: %s after %.2f s" %
        (src_b, hl.rcode_text(m), dt))
h.check(ask(a1) and ask(a2), "the two connections from %s still work" % src_a)
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
h.check("tcp connections closed at accept" in up.log_text(),
        "the refusals are counted in the shutdown log")

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
