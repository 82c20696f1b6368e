#!/usr/bin/python3
"""Response Rate Limiting on tierdns-upper (issue 18): a flood of 10,000
queries for one name from one address, sent from four source ports so that
SO_REUSEPORT spreads it over both workers, gets about --rrl-rate full
answers a second in all (the table is shared: not twice that), every
--rrl-slip-th limited response truncated (TC, no records) and the rest
dropped; a second address asking at a normal rate meanwhile is answered in
full every time; TCP from the flooding address is always answered; the
server logs when limiting starts. Without --rrl-rate nothing is limited."""
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_rrl")
NAME, ADDR = "webapp.site.", "192.0.2.10"
RATE, SLIP, FLOOD, SOCKS = 50, 2, 10000, 4
db = os.path.join(h.tmp, "upper")
h.zone_load(db, os.path.join(hl.ZONES, "upper", "site.zone"))


def two_prefixes():
    """Two random 127/8 source addresses in different /24s."""
    while True:
        a, b = hl.rand_addr(), hl.rand_addr()
        if a.rsplit(".", 1)[0] != b.rsplit(".", 1)[0]:
            return a, b


def flood(d, src, n, other_src, other_every):
    """Send n queries from src over SOCKS sockets in bursts, draining
    replies as they come; every other_every seconds one query from
    other_src (a normal client). Returns (full, tc, other_results, secs)."""
    socks = []
    for _ in range(SOCKS):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind((src, 0))
        s.setblocking(False)
        socks.append(s)
    wire = {}
    full = tc = 0
    other = []
    t0 = last_other = hl.now()

    def drain():
        nonlocal full, tc
        for s in socks:
            while True:
                try:
                    raw = s.recv(65535)
                except BlockingIOError:
                    break
                m = hl.dns.message.from_wire(raw)
                if m.flags & hl.dns.flags.TC:
                    if len(m.answer) == 0 and m.rcode() == 0:
                        tc += 1
                elif hl.answer_addrs(m, NAME) == {ADDR}:
                    full += 1

    for i in range(n):
        q = hl.make_query(NAME, qid=i & 0xffff)
        socks[i % SOCKS].sendto(q.to_wire(), (d.addr, d.port))
        if i % 50 == 49:
            drain()
            time.sleep(0.002)
        if hl.now() - last_other >= other_every:
            last_other = hl.now()
            m, _ = hl.query(d, NAME, src=other_src, timeout=2)
            other.append(m is not None and not (m.flags & hl.dns.flags.TC) and
                         hl.answer_addrs(m, NAME) == {ADDR})
    secs = hl.now() - t0
    end = hl.now() + 1.0
    while hl.now() < end:
        drain()
        time.sleep(0.05)
    for s in socks:
        s.close()
    return full, tc, other, secs


src, other_src = two_prefixes()
up = h.start_upper("UPPER", db, "--threads", "2", "--rrl-rate", str(RATE),
                   "--rrl-slip", str(SLIP))
full, tc, other, secs = flood(up, src, FLOOD, other_src, 0.1)
limited = FLOOD - full
h.log("flood of %d in %.2f s from %s: %d full, %d truncated, %d dropped or lost"
      % (FLOOD, secs, src, full, tc, FLOOD - full - tc))
# A second's burst plus the rate over the flood's length, with a second of
# slack for the drain; both workers together (a per-worker table would
# allow twice as much).
allowed = RATE * (secs + 2)
h.check(RATE <= full <= allowed,
        "full answers to the flooding address stay within the rate: %d (%d..%d)"
        % (full, RATE, allowed))
h.check(abs(tc - limited / SLIP) <= max(5, 0.05 * limited),
        "every %d-th limited response is truncated: %d of %d limited"
        % (SLIP, tc, limited))
h.check(len(other) >= 3 and all(other),
        "a second address at a normal rate is always answered in full (%d/%d)"
        % (sum(other), len(other)))
m, _ = hl.query(up, NAME, tcp=True, src=src, timeout=3)
h.check(m is not None and hl.answer_addrs(m, NAME) == {ADDR} and
        not (m.flags & hl.dns.flags.TC),
        "TCP from the flooding address is answered in full")
prefix = src.rsplit(".", 1)[0] + ".0/24"
h.check(("rrl: limiting %s answer webapp.site." % prefix) in up.log_text(),
        "the log says that %s is being limited" % prefix)
h.check(up.alive(), "tierdns-upper lives")
h.stop(up)
h.check("rate limiting slipped" in up.log_text(),
        "the shutdown log counts slipped and dropped responses")

# Without --rrl-rate: the same flood, nothing truncated, nothing held back
# (only what the sockets lose).
up = h.start_upper("UPPER_OFF", db, "--threads", "2")
full, tc, _, secs = flood(up, src, 2000, other_src, 10)
h.check(tc == 0 and full >= 1900,
        "without --rrl-rate every query is answered: %d full, %d truncated of 2000"
        % (full, tc))
h.check("rrl:" not in up.log_text(), "without --rrl-rate nothing about rrl is logged")
h.stop(up)
h.finish()
