#!/usr/bin/python3
"""A zone's journal-size (tierdns.conf(5), issue 13: the journal bounded,
oldest diffs dropped, IXFR then falling back to the whole zone).

Two zones, each loaded in three versions whose differences are about
38 KB each (RDIFF records changed per version; the bound counts the
difference written, not the zone's RRsets each load touched):
  - j.test. with journal-size 64K: the second difference pushes the first
    out, so an IXFR from serial 1 is the whole zone while one from serial
    2 is the difference sequence;
  - k.test. without the key (16 MiB): both differences are kept, an IXFR
    from serial 1 is the two sequences;
  - a SIGHUP giving k.test. journal-size 64K logs the change, and the next
    change to it drops its oldest differences (IXFR from 1: the whole
    zone; from 3: the sequence);
  - journal-size out of its range is refused by --check-config.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.rdatatype  # noqa: E402

h = hl.Harness("test_journal_size")
N = 1500       # A records of each zone
RDIFF = 700    # records changed from one version to the next


def zone_text(origin, serial, moves):
    """Version `serial` of the zone: each (shift, v) of moves, in order,
    points the RDIFF records from shift on to 10.v.x.y."""
    addr = [0] * N
    for shift, v in moves:
        for i in range(shift, shift + RDIFF):
            addr[i] = v
    lines = ["$ORIGIN %s" % origin, "$TTL 300",
             "@ SOA ns1 hm %d 3600 600 86400 300" % serial, "@ NS ns1", "ns1 A 192.0.2.1"]
    for i in range(N):
        lines.append("h%d A 10.%d.%d.%d" % (i, addr[i], i // 256, i % 256))
    return "\n".join(lines) + "\n"


def write(name, text):
    path = os.path.join(h.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def conf(k_size=None):
    text = ("zones:\n"
            "  - name: j.test.\n    allow-transfer: [127.0.0.0/8]\n    journal-size: 64K\n"
            "  - name: k.test.\n    allow-transfer: [127.0.0.0/8]\n")
    if k_size:
        text += "    journal-size: %s\n" % k_size
    return write("upper.conf", text)


def form(d, zone, serial):
    """'whole' when an IXFR from serial gives the zone as an AXFR does,
    'diff' when it gives difference sequences (RFC 1995 4: the second
    record is then the client's SOA)."""
    msgs = hl.tcp_xfr(d, zone, "IXFR", serial=serial)
    rrs = [rr for m in msgs for rrset in m.answer for rr in
           [(rrset.rdtype, rd) for rd in rrset]]
    if len(rrs) < 2:
        return "short (%d records)" % len(rrs)
    second_soa = rrs[1][0] == dns.rdatatype.SOA
    return "diff" if second_soa else "whole (%d records)" % len(rrs)


db = os.path.join(h.tmp, "db")
cfg = conf()
V = {1: [], 2: [(0, 2)], 3: [(0, 2), (700, 3)], 4: [(0, 2), (700, 3), (200, 4)]}
h.zone_load(db, write("j1", zone_text("j.test.", 1, V[1])),
            write("k1", zone_text("k.test.", 1, V[1])))
up = h.start_upper("UPPER", db, "-c", cfg, "-t", "1")
# The upper records the stanzas' keys in the store before it listens:
# every change from here on is bounded by them.
for serial in (2, 3):
    h.zone_load(db, write("j%d" % serial, zone_text("j.test.", serial, V[serial])),
                write("k%d" % serial, zone_text("k.test.", serial, V[serial])))

whole = "whole (%d records)" % (N + 4)
h.check(form(up, "j.test.", 1) == whole,
        "j.test. (64K): IXFR from 1 is the whole zone: %s" % form(up, "j.test.", 1))
h.check(form(up, "j.test.", 2) == "diff",
        "j.test. (64K): IXFR from 2 is a difference sequence: %s" % form(up, "j.test.", 2))
h.check(form(up, "k.test.", 1) == "diff",
        "k.test. (default): IXFR from 1 is the difference sequences: %s"
        % form(up, "k.test.", 1))

# A reload bounds k.test. too, from its next change on.
conf("64K")
up.proc.send_signal(1)
h.check(hl.wait_for(lambda: "k.test.: journal-size 0 -> 65536" in up.log_text(), 10),
        "SIGHUP: the new journal-size of k.test. logged")
h.check(hl.wait_for(lambda: "reloaded" in up.log_text(), 10), "SIGHUP: reloaded")
h.zone_load(db, write("k4", zone_text("k.test.", 4, V[4])))
h.check(form(up, "k.test.", 1) == whole,
        "k.test. after the reload (64K): IXFR from 1 is the whole zone: %s"
        % form(up, "k.test.", 1))
h.check(form(up, "k.test.", 3) == "diff",
        "k.test. after the reload: IXFR from 3 is a difference sequence: %s"
        % form(up, "k.test.", 3))
h.stop(up)

# Out of range: refused with the key named.
for bad in ("1K", "5G", "lots"):
    path = write("bad.conf", "zones:\n  - name: x.test.\n    journal-size: %s\n" % bad)
    r = subprocess.run([hl.UPPER_BIN, "-c", path, "--check-config"], capture_output=True,
                       text=True, timeout=30)
    h.check(r.returncode != 0 and "journal-size" in r.stderr,
            "journal-size: %s refused: rc %d, %s" % (bad, r.returncode, r.stderr.strip()))
h.finish()
