#!/usr/bin/python3
"""The bounds of an incoming zone transfer (tierdns-upper as a secondary),
against scripted primaries:

  - a primary that trickles its AXFR (a record every 0.5 s, never the
    end) is given up after --transfer-time-in (2 s here), although its
    messages never stop for the 10 s that a silent transfer gets, and the
    zone's next primary is tried: the zone comes from it;
  - a primary that answers every SOA query with a newer serial but only
    ever trickles the transfer does not keep the zone alive: the zone
    expires (SERVFAIL) after its SOA's expire time, and comes back (the
    new version) once a transfer completes;
  - a primary whose serial went back (older than the zone's) is no
    refresh either: logged, and the zone expires;
  - the last refresh is kept in the store: restarted while its primary is
    silent, a zone transferred longer ago than its expire time but
    refreshed a second ago is served, and expires later;
  - a transfer whose messages come to more than its zone stanza's
    transfer-size-in (which wins over the top-level --transfer-size-in) is
    given up, the next primary tried, and nothing of the large one is
    served;
  - tierdns-control zone status shows a transfer in progress (its form,
    primary, records and bytes so far), and none otherwise;
  - as a primary: an outgoing AXFR read slowly but steadily (so that the
    connection is never idle, and the kernel's buffers still hold megabytes
    of it) is closed after --transfer-time-out (2 s here), logged; the
    reader gets what was sent and then the end of the connection, not the
    whole zone; a transfer read at once is whole.
"""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.rdatatype  # noqa: E402

h = hl.Harness("test_xfr_limits")


def answer(d, name, rdtype="A"):
    """(rcode text, sorted answer records) or None without an answer."""
    m, _ = hl.query(d, name, rdtype)
    if m is None:
        return None
    return (hl.rcode_text(m), sorted(r.to_text() for r in m.answer))


def has_ns1(d, last_octet):
    return answer(d, "ns1.cut.") == ("NOERROR", ["ns1.cut. 300 IN A 192.0.2.%d" % last_octet])


def zone_status(d):
    r = subprocess.run([hl.CONTROL_BIN, "-s", d.ctl, "zone", "status", "cut."],
                       capture_output=True, text=True, timeout=10)
    return r.stdout + r.stderr


def secondary(label, primaries, *args, db=None, stanza=""):
    conf = hl.write(os.path.join(h.tmp, label + ".conf"), """zones:
  - name: cut.
    primaries: [%s]
%s""" % (", ".join('"%s:%d"' % (p.addr, p.port) for p in primaries), stanza))
    ctl = os.path.join(h.tmp, label + ".ctl")
    d = h.start_upper(label, db or os.path.join(h.tmp, label + ".db"), "-c", conf, "-t",
                      "1", "--control", ctl, *args)
    d.ctl = ctl
    return d


# ---- the whole time: a trickling primary, then the next one ----
slow = hl.ScriptedPrimary(1)
slow.cut = False
slow.trickle = 0.5
good = hl.ScriptedPrimary(1)
good.cut = False
t0 = time.monotonic()
sec = secondary("TIME", [slow, good], "--transfer-time-in", "2")
dt = hl.wait_for(lambda: has_ns1(sec, 1), 10)
h.check(dt is not None, "the zone comes from the next primary: %s / %s" %
        (answer(sec, "ns1.cut."), sec.log_text()[-400:]))
h.check("AXFR" in slow.asked and "AXFR" in good.asked,
        "both primaries were asked for the zone: %s, %s" % (slow.asked, good.asked))
h.check("the transfer took longer than 2 s" in sec.log_text(),
        "the trickling transfer is given up for its time: %s" % sec.log_text()[-400:])
h.check(time.monotonic() - t0 >= 2.0, "not before its 2 s")
h.check(answer(sec, "t0.cut.") is not None and answer(sec, "t0.cut.")[0] == "NXDOMAIN",
        "nothing of the trickled transfer is served: %s" % (answer(sec, "t0.cut."),))
h.stop(sec)
slow.trickle = 0

# ---- expiry: answers to the SOA query are no refresh when the newer
# version never arrives ----
prim = hl.ScriptedPrimary(1, expire=4)
prim.cut = False
sec = secondary("EXPIRE", [prim], "--transfer-time-in", "2")
h.check(hl.wait_for(lambda: has_ns1(sec, 1), 6) is not None,
        "the zone from the primary: %s" % (answer(sec, "ns1.cut."),))
h.check("transfer: none" in zone_status(sec), "zone status: no transfer in progress: %s" %
        zone_status(sec))
prim.trickle = 0.5
prim.serial = 2
# While it trickles, zone status shows the transfer (an IXFR asked, answered
# in AXFR form) and what has come of it.
st = []
h.check(hl.wait_for(lambda: st.append(zone_status(sec)) or
                    "transfer: AXFR from %s:%d, " % (prim.addr, prim.port) in st[-1] and
                    " records, " in st[-1] and " bytes, " in st[-1], 5) is not None,
        "zone status shows the transfer in progress: %s" % st[-1:])
dt = hl.wait_for(lambda: (answer(sec, "ns1.cut.") or ("",))[0] == "SERVFAIL", 12)
h.check(dt is not None, "a primary that answers the SOA query but never completes the "
        "newer version does not keep the zone: SERVFAIL past expire (%s)" %
        sec.log_text()[-600:])
h.check("not refreshed for the expire time" in sec.log_text(), "expiry is logged")
h.check("the transfer took longer than 2 s" in sec.log_text(),
        "the transfers were given up for their time")
prim.trickle = 0
dt = hl.wait_for(lambda: has_ns1(sec, 2), 10)
h.check(dt is not None, "a completed transfer brings the zone back, new: %s" %
        (answer(sec, "ns1.cut."),))
h.check("refreshed again" in sec.log_text(), "and the log says so")
h.stop(sec)

# ---- a primary whose serial went back: no refresh, the zone expires ----
back = hl.ScriptedPrimary(5, expire=4)
back.cut = False
sec = secondary("OLDER", [back])
h.check(hl.wait_for(lambda: has_ns1(sec, 5), 6) is not None,
        "the zone from the primary, serial 5: %s" % (answer(sec, "ns1.cut."),))
back.serial = 3
h.check(hl.wait_for(lambda: "its serial 3 is older than ours (5)" in sec.log_text(), 4)
        is not None, "an older serial is logged as the primary's failure: %s" %
        sec.log_text()[-300:])
h.check(hl.wait_for(lambda: (answer(sec, "ns1.cut.") or ("",))[0] == "SERVFAIL", 10)
        is not None, "a primary answering an older serial does not keep the zone: "
        "SERVFAIL past expire")
h.stop(sec)

# ---- the last refresh outlives a restart: the expire time counts from
# it, not from the transfer ----
keep = hl.ScriptedPrimary(1, expire=5)
keep.cut = False
sec = secondary("RESTART", [keep])
h.check(hl.wait_for(lambda: has_ns1(sec, 1), 6) is not None, "the zone from the primary")
time.sleep(6.5)  # past expire since the transfer; refreshed every second
h.stop(sec)
keep.up = False
sec = secondary("RESTART2", [keep], db=os.path.join(h.tmp, "RESTART.db"))
time.sleep(0.5)
h.check(has_ns1(sec, 1), "restarted with the primary silent, the zone refreshed a second "
        "ago is served: %s" % (answer(sec, "ns1.cut."),))
h.check(hl.wait_for(lambda: (answer(sec, "ns1.cut.") or ("",))[0] == "SERVFAIL", 9)
        is not None, "and expires the expire time after that refresh")
h.stop(sec)

# ---- the size: a large transfer is given up, the next primary tried ----
big = hl.ScriptedPrimary(1, records=lambda serial: [
    "cut. 300 IN NS ns1.cut.", "ns1.cut. 300 IN A 192.0.2.%d" % serial] + [
    "big%d.cut. 300 IN TXT \"%s\"" % (i, "x" * 40) for i in range(60)])
big.cut = False
small = hl.ScriptedPrimary(1)
small.cut = False
# The zone's stanza bounds it, over the top-level 1M.
sec = secondary("SIZE", [big, small], "--transfer-size-in", "1M",
                stanza="    transfer-size-in: 2K\n")
dt = hl.wait_for(lambda: has_ns1(sec, 1), 8)
h.check(dt is not None, "the zone comes from the next primary: %s / %s" %
        (answer(sec, "ns1.cut."), sec.log_text()[-400:]))
h.check("AXFR" in big.asked, "the large primary was asked: %s" % big.asked)
h.check("the transfer came to more than 2048 bytes" in sec.log_text(),
        "the large transfer is given up for its size: %s" % sec.log_text()[-400:])
h.check(answer(sec, "big0.cut.", "TXT") is not None and
        answer(sec, "big0.cut.", "TXT")[0] == "NXDOMAIN",
        "nothing of the large transfer is served: %s" % (answer(sec, "big0.cut.", "TXT"),))
h.stop(sec)

# The same large zone within a limit that holds it: transferred whole.
sec = secondary("SIZEOK", [big], "--transfer-size-in", "1M")
dt = hl.wait_for(lambda: answer(sec, "big59.cut.", "TXT") is not None and
                 answer(sec, "big59.cut.", "TXT")[0] == "NOERROR", 6)
h.check(dt is not None, "under its limit the large zone is transferred: %s" %
        (answer(sec, "big59.cut.", "TXT"),))
h.stop(sec)


# ---- an outgoing transfer's whole time ----
# About 7 MB of AXFR: more than the kernel's socket buffers (up to 4 MB,
# tcp_wmem) and the server's own take before the reader has read it.
N_BIG = 30000
big_zone = ["$ORIGIN big.", "$TTL 300", "@ SOA ns1 hm 1 3600 600 86400 300", "@ NS ns1",
            "ns1 A 192.0.2.1"] + ["h%d TXT \"%s\"" % (i, "x" * 220) for i in range(N_BIG)]
pdb = os.path.join(h.tmp, "pdb")
h.zone_load(pdb, hl.write(os.path.join(h.tmp, "big.zone"), "\n".join(big_zone) + "\n"),
            hl.write(os.path.join(h.tmp, "small.zone"), """$ORIGIN small.
$TTL 300
@ SOA ns1 hm 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
"""))
pconf = hl.write(os.path.join(h.tmp, "p.conf"), """zones:
  - name: big.
    allow-transfer: [127.0.0.0/8]
  - name: small.
    allow-transfer: [127.0.0.0/8]
""")
prim = h.start_upper("PRIMARY", pdb, "-c", pconf, "-t", "1", "--transfer-time-out", "2",
                     "--tcp-idle", "30000")


CLOSED = "an answer stream (zone transfer) still running after 2 s; connection closed"


def slow_axfr(d, zone):
    """An AXFR read 2 KB every 50 ms (a small receive buffer) until d logs
    its close (at most 8 s), then at once: (seconds from the query to that
    log line or None, rcodes of the messages, SOAs, TXT records, whether
    the connection ended)."""
    wire = dns.message.make_query(zone, "AXFR").to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect((d.addr, d.port))
    t0 = time.monotonic()
    s.sendall(struct.pack("!H", len(wire)) + wire)
    buf = b""
    logged = None
    while logged is None and time.monotonic() - t0 < 8:
        chunk = s.recv(2048)
        if not chunk:
            break
        buf += chunk
        if CLOSED in d.log_text():
            logged = time.monotonic() - t0
        time.sleep(0.05)
    rcodes, soas, a, ended = [], 0, 0, False
    try:
        while soas < 2 and (not rcodes or rcodes[-1] == 0):
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    raise EOFError
                buf += chunk
            n = struct.unpack("!H", buf[:2])[0]
            m = dns.message.from_wire(buf[2:2 + n], xfr=True, one_rr_per_rrset=True)
            buf = buf[2 + n:]
            rcodes.append(m.rcode())
            for rrset in m.answer:
                soas += rrset.rdtype == dns.rdatatype.SOA
                a += len(rrset) if rrset.rdtype == dns.rdatatype.TXT else 0
    except (EOFError, OSError):
        ended = True
    s.close()
    return logged, rcodes, soas, a, ended


logged, rcodes, soas, a, ended = slow_axfr(prim, "big.")
h.check(logged is not None and 1.8 <= logged <= 4.5,
        "a transfer still being read slowly is closed after its 2 s, and logged: %s s, "
        "%s" % (logged, prim.log_text()[-300:]))
h.check(ended and soas == 1 and 0 < a < N_BIG and all(r == 0 for r in rcodes),
        "the reader gets what was sent before the close, then the end of the connection, "
        "not the whole zone: %d SOA, %d of %d TXT records, rcodes %s, ended %s" %
        (soas, a, N_BIG, set(rcodes), ended))
msgs = hl.tcp_xfr(prim, "small.")
h.check(len(msgs) >= 1 and all(m.rcode() == 0 for m in msgs) and
        sum(r.rdtype == dns.rdatatype.SOA for m in msgs for r in m.answer) == 2,
        "a transfer read at once is whole")
h.stop(prim)

h.finish()
