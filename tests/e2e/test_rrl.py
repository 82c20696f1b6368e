#!/usr/bin/python3
"""Response Rate Limiting on tierdns-upper (issue 18): a flood of 10,000
queries for one name from one address, sent from four source ports so that
SO_REUSEPORT spreads it over both workers, gets about --rrl-rate full
answers a second in all (the table is shared: not twice that), every
--rrl-slip-th limited response truncated (TC, no records) and the rest
dropped; a second address asking at a normal rate meanwhile is answered in
full every time; TCP from the flooding address is always answered; the
server logs when limiting starts. The statistics (tierdns-control stats and
the SIGUSR1 line) count what was slipped and dropped: every dropped response
is a query given no answer, every UDP query is answered in full, slipped or
dropped, at least the truncated replies the client saw were slipped, and
the flooding key is the one limited while the flood runs, none a second
after it. Without --rrl-rate nothing is limited."""
import signal
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


def flood(d, src, n, other_src, other_every, mid=None):
    """Send n queries from src over SOCKS sockets in bursts, draining
    replies as they come; every other_every seconds one query from
    other_src (a normal client); mid() is called halfway. Returns (full,
    tc, other_results, secs)."""
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
        if mid is not None and i == n // 2:
            mid()
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
sock = os.path.join(h.tmp, "upper.sock")
up = h.start_upper("UPPER", db, "--threads", "2", "--rrl-rate", str(RATE),
                   "--rrl-slip", str(SLIP), "--control", sock)
during = {}
full, tc, other, secs = flood(up, src, FLOOD, other_src, 0.1,
                              mid=lambda: during.update(hl.control_stats(sock)))
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
st = hl.control_stats(sock)
h.log("stats: %s" % {k: v for k, v in st.items() if k.startswith(("rrl.", "queries."))})
h.check(during.get("rrl.limited") == 1,
        "halfway through the flood one key is limited: %s" % during.get("rrl.limited"))
h.check(st.get("rrl.limited") == 0, "a second after it none is: %s" % st.get("rrl.limited"))
h.check(st.get("rrl.dropped", 0) > 0 and st.get("rrl.dropped") == st.get("queries.dropped"),
        "every rate-limited drop is a query given no answer: rrl.dropped %s, queries.dropped %s"
        % (st.get("rrl.dropped"), st.get("queries.dropped")))
sent_full = (st.get("queries.udp", 0) - st.get("rrl.slipped", 0) - st.get("rrl.dropped", 0) -
             len(other))
h.check(full <= sent_full <= allowed,
        "UDP queries less slipped, dropped and the other client's: the full answers sent "
        "to the flooder, %d, at least the %d seen and within the rate (%d)"
        % (sent_full, full, allowed))
h.check(tc <= st.get("rrl.slipped", -1) <= tc + max(5, 0.02 * FLOOD),
        "rrl.slipped %s: at least the %d truncated replies seen (a few lost at most)"
        % (st.get("rrl.slipped"), tc))
h.check(abs(st.get("rrl.slipped", 0) - st.get("rrl.dropped", 0)) <= 4,
        "slip %d: as many slipped as dropped (%s, %s)"
        % (SLIP, st.get("rrl.slipped"), st.get("rrl.dropped")))
os.kill(up.pid, signal.SIGUSR1)
line = "rrl %d slipped, %d dropped, 0 keys limited" % (st.get("rrl.slipped", -1),
                                                      st.get("rrl.dropped", -1))
deadline = hl.now() + 5
while line not in up.log_text() and hl.now() < deadline:
    time.sleep(0.1)
h.check(line in up.log_text(), "SIGUSR1 logs the same counts: %r" % line)
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
