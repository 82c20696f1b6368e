#!/usr/bin/python3
"""A flood of idle TCP connections (issue 4, "Access and resource limits":
TCP connections bounded per tier): 400 connections to each tier (one
worker thread, so one listener's limit of 256 applies), each stalled
after half a frame. A new client's TCP query is still answered, the
daemon's descriptors stay bounded (no more than the limit plus a margin),
and UDP is served throughout. The flood comes from 40 source addresses,
10 connections each, under the per-client cap (16), so the per-listener
limit is what is tested here (test_tcp_limits.py tests the per-client one)."""
import os
import resource
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_hostile_tcp_flood")
N = 400
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < N + 100:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, N + 200), hard))

upper_db = os.path.join(h.tmp, "upper")
local_db = os.path.join(h.tmp, "local")
h.zone_load(upper_db, os.path.join(hl.ZONES, "upper", "site.zone"))
h.zone_load(local_db, os.path.join(hl.ZONES, "local", "home.arpa.zone"))
nx = hl.FakeUpstream(h, lambda up, s: [("send", hl.reply(s, rcode=3))] if s.msg else None)
upper = h.start_upper("UPPER", upper_db, "--threads", "1")
local = h.start_local("LOCAL", local_db, [nx.endpoint], "--threads", "1")
PER_SOURCE = 10  # below --max-tcp-per-client's default of 16
HALF = struct.pack("!H", 100) + b"\x12\x34\x01\x00\x00\x01"


def fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


for d, name, addr in ((upper, "webapp.site.", "192.0.2.10"),
                      (local, "router.home.arpa.", "198.51.100.1")):
    before = fds(d.pid)
    conns = []
    for i in range(N):
        try:
            src = "127.77.0.%d" % (i // PER_SOURCE + 1)
            s = socket.create_connection((d.addr, d.port), timeout=2,
                                         source_address=(src, 0))
            s.sendall(HALF)
            conns.append(s)
        except OSError:
            break  # refused or reset: the server protects itself, fine
    m, dt = hl.query(d, name, tcp=True, timeout=3)
    h.check(hl.answer_addrs(m, name) == {addr},
            "%s: a new TCP client after %d stalled connections: %s after %.2f s" %
            (d.label, len(conns), hl.rcode_text(m), dt))
    m, _ = hl.query(d, name, timeout=2)
    h.check(hl.answer_addrs(m, name) == {addr}, "%s: UDP during the TCP flood: %s" %
            (d.label, hl.rcode_text(m)))
    n = fds(d.pid)
    h.check(0 < n <= before + 256 + 16,
            "%s: %d descriptors open with %d stalled connections (was %d; limit 256)" %
            (d.label, n, len(conns), before))
    h.log("%s: %d stalled connections, %d descriptors (was %d)" % (d.label, len(conns), n, before))
    for s in conns:
        s.close()
    h.check(d.alive(), "%s died under a TCP flood" % d.label)
for d in (upper, local):
    h.stop(d)
h.finish()
