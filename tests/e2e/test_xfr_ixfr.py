#!/usr/bin/python3
"""tierdns-upper as a secondary applies an IXFR as its difference sequences
(RFC 1995), in one write transaction, at the cost of the change:

  - a scripted primary answers the IXFR with two sequences (1 -> 2 -> 3)
    whose deletions name records in another case and with another TTL:
    the secondary serves version 3, its log counts the records of the
    change and the RRsets written (not the zone), and it serves IXFR from
    serial 1 itself, from the journal diffs the transfer wrote;
  - an IXFR deleting a record the secondary does not hold changes nothing
    (version 3 is served while the primary is silent) and the next
    transfer is an AXFR;
  - an AXFR's records are spooled to an unlinked file in $TMPDIR while
    they arrive, not held in memory; a transfer cut off closes it and
    changes nothing;
  - a large zone from a tierdns primary: `tierdns-zone add` of one record
    reaches the secondary by IXFR with 2 RRsets written, and a secondary
    of that secondary gets the same change by IXFR (NOTIFY from the first).
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402

h = hl.Harness("test_xfr_ixfr")
BIG = int(os.environ.get("TDNS_IXFR_RECORDS", "20000"))


def answers(d, name, rdtype="A"):
    m, _ = hl.query(d, name, rdtype)
    if m is None:
        return None
    return (dns.rcode.to_text(m.rcode()),
            sorted(rrset.to_text() for rrset in m.answer))


def wait_for(fn, timeout):
    return hl.wait_for(fn, timeout, step=0.02)


def notify(d, zone, src):
    q = dns.message.make_query(zone, "SOA")
    q.set_opcode(4)
    hl.udp_exchange(d.addr, d.port, q.to_wire(), src=src)


def stored_lines(d):
    return [line for line in d.log_text().splitlines() if " stored (" in line]


# ---- a scripted primary: versions of zone ix. ----
V = {
    1: ["ix. 300 IN NS ns1.ix.", "ns1.ix. 300 IN A 192.0.2.1", "www.ix. 300 IN A 192.0.2.2",
        'www.ix. 300 IN TXT "a"', 'www.ix. 300 IN TXT "b"', "mx.ix. 300 IN MX 10 Mail.ix."],
}
V[2] = [r for r in V[1] if r != "www.ix. 300 IN A 192.0.2.2"] + ["www.ix. 300 IN A 192.0.2.3"]
V[3] = [r for r in V[2] if "MX" not in r and '"b"' not in r] + \
    ['www.ix. 300 IN TXT "c"', "new.ix. 300 IN AAAA 2001:db8::1"]
V[4] = V[3] + ["four.ix. 300 IN A 192.0.2.4"]
V[5] = V[4] + ["five.ix. 300 IN A 192.0.2.5"]


def soa(serial):
    return "ix. 300 IN SOA ns1.ix. hm.ix. %d 3600 1 86400 300" % serial


def shout(rr):
    """The record as a primary may send a deletion: another case, TTL."""
    f = rr.split(None, 4)
    return " ".join([f[0].upper(), "7", f[2], f[3], f[4].upper() if f[3] == "MX" else f[4]])


def sequence(a, b):
    dels = [shout(r) for r in V[a] if r not in V[b]]
    adds = [r for r in V[b] if r not in V[a]]
    return [soa(a)] + dels + [soa(b)] + adds


fp = hl.ScriptedPrimary(1, refresh=3600, zone="ix.", records=lambda s: V[s])
fp.cut = False
bad = False


def ixfr(client):
    if bad:  # deletes a record the secondary never had
        return [soa(4), soa(3), "nothere.ix. 300 IN A 192.0.2.99", soa(4),
                "four.ix. 300 IN A 192.0.2.4", soa(4)]
    out = [soa(fp.serial)]
    for s in range(client, fp.serial):
        out += sequence(s, s + 1)
    return out + [soa(fp.serial)]


fp.ixfr = ixfr
sdb = os.path.join(h.tmp, "sdb")
sconf = hl.write(os.path.join(h.tmp, "s.conf"), """zones:
  - name: ix.
    primaries: ["%s:%d"]
    allow-transfer: [127.0.0.1]
""" % (fp.addr, fp.port))
sec = h.start_upper("SECONDARY", sdb, "-c", sconf, "-t", "1")
dt = wait_for(lambda: (answers(sec, "www.ix.") or ("", []))[1] ==
              ["www.ix. 300 IN A 192.0.2.2"], 10)
h.check(dt is not None and fp.asked[:1] == ["AXFR"], "serial 1 by AXFR: %s" % fp.asked)

fp.serial = 3
notify(sec, "ix.", fp.addr)
dt = wait_for(lambda: (answers(sec, "new.ix.", "AAAA") or ("", []))[1] ==
              ["new.ix. 300 IN AAAA 2001:db8::1"], 10)
h.check(dt is not None and fp.asked[-1] == "IXFR", "serial 3 by IXFR: %s" % fp.asked)
for name, t, want in [("www.ix.", "A", ["www.ix. 300 IN A 192.0.2.3"]),
                      ("www.ix.", "TXT", ['www.ix. 300 IN TXT "a"', 'www.ix. 300 IN TXT "c"']),
                      ("mx.ix.", "MX", []), ("ix.", "SOA", [soa(3)])]:
    a = answers(sec, name, t)
    got = None if a is None else sorted("\n".join(a[1]).splitlines())
    h.check(got == want, "%s %s after the IXFR: %s, want %s" % (name, t, got, want))
# 1 -> 2: -SOA -A +SOA +A; 2 -> 3: -SOA -MX -TXT +SOA +TXT +AAAA (6 RRsets).
line = [x for x in stored_lines(sec) if "serial 3" in x]
h.check(len(line) == 1 and "IXFR, 2 difference sequences: 5 records deleted, "
        "5 added, 6 RRsets written" in line[0],
        "the log counts the change, not the zone: %s" % line)

# The secondary serves IXFR from the journal it wrote (RFC 1995), so that
# it can feed secondaries of its own.
q = dns.message.make_query("ix.", "IXFR")
q.authority.append(dns.rrset.from_text("ix.", 0, "IN", "SOA", ". . 1 0 0 0 0"))
try:
    r = dns.query.tcp(q, sec.addr, port=sec.port, timeout=5, source="127.0.0.1",
                      one_rr_per_rrset=True)
    recs = [(rs.name.to_text().lower(), dns.rdatatype.to_text(rs.rdtype), rd.to_text())
            for rs in r.answer for rd in rs]
except Exception as e:  # noqa: BLE001 - reported below
    recs = [("error", str(e), "")]
serials = [int(rd.split()[2]) for _, t, rd in recs if t == "SOA"]
h.check(serials == [3, 1, 2, 2, 3, 3], "IXFR from the secondary: the diffs 1->2->3: %s" %
        recs)
h.check(("www.ix.", "A", "192.0.2.2") in recs and ("new.ix.", "AAAA", "2001:db8::1") in recs
        and ("mx.ix.", "MX", "10 Mail.ix.") in recs, "with the records changed: %s" % recs)

# An IXFR that does not apply changes nothing; the next transfer is AXFR.
bad = True
fp.serial = 4
n_asked = len(fp.asked)
notify(sec, "ix.", fp.addr)
dt = wait_for(lambda: len(fp.asked) > n_asked, 10)
fp.up = False  # the retry's SOA query goes unanswered for now
dt = wait_for(lambda: "is not in the zone" in sec.log_text(), 10)
h.check(dt is not None, "the IXFR that does not apply is logged: %s" % sec.log_text()[-400:])
time.sleep(0.5)
a = answers(sec, "ix.", "SOA")
h.check(a is not None and a[1] == [soa(3)] and
        answers(sec, "four.ix.")[0] == "NXDOMAIN",
        "a failed IXFR changes nothing: %s" % (a,))
fp.up = True
dt = wait_for(lambda: (answers(sec, "four.ix.") or ("", []))[1] ==
              ["four.ix. 300 IN A 192.0.2.4"], 15)
h.check(dt is not None and fp.asked[n_asked:] == ["IXFR", "AXFR"],
        "then the whole zone by AXFR: %s" % fp.asked[n_asked:])
h.check(any("serial 4 stored (AXFR" in x for x in stored_lines(sec)), "%s" %
        stored_lines(sec))
# A primary that sends an IXFR one record a message (RFC 1995 allows any
# split): its first message is the new SOA alone, which is no "up to date".
bad = False
fp.one_per_msg = True
fp.serial = 5
n_asked = len(fp.asked)
notify(sec, "ix.", fp.addr)
dt = wait_for(lambda: (answers(sec, "five.ix.") or ("", []))[1] ==
              ["five.ix. 300 IN A 192.0.2.5"], 10)
h.check(dt is not None and fp.asked[n_asked:] == ["IXFR"],
        "an IXFR of one record a message applied: %s, %s" % (fp.asked[n_asked:],
                                                           stored_lines(sec)[-1:]))
h.stop(sec)

# ---- an AXFR goes to an unlinked temporary file while it arrives ----
def spool_files(d):
    """The secondary's open files in the spool directory: (link, size)."""
    out = []
    fds = "/proc/%d/fd" % d.pid
    for fd in os.listdir(fds):
        try:
            target = os.readlink(os.path.join(fds, fd))
            if target.startswith(spool_dir + "/tierdns-xfr."):
                out.append((target, os.stat(os.path.join(fds, fd)).st_size))
        except OSError:
            pass
    return out


spool_dir = os.path.join(h.tmp, "spool")
os.mkdir(spool_dir)
# More than a stdio buffer's worth in the first message.
fs = hl.ScriptedPrimary(1, refresh=3600, zone="sp.", records=lambda s: [
    "sp. 300 IN NS ns1.sp.", "ns1.sp. 300 IN A 192.0.2.%d" % s] +
    ["h%d.sp. 300 IN A 192.0.2.1" % i for i in range(300)])
fs.cut = True
fs.stall = 2
os.environ["TMPDIR"] = spool_dir
spsec = h.start_upper("SPOOLSEC", os.path.join(h.tmp, "spdb"), "-c", hl.write(
    os.path.join(h.tmp, "sp.conf"), 'zones:\n  - name: sp.\n    primaries: ["%s:%d"]\n' %
    (fs.addr, fs.port)), "-t", "1")
del os.environ["TMPDIR"]
files = []
wait_for(lambda: files.extend(spool_files(spsec)) or files, 5)
h.check(len(files) > 0 and files[0][0].endswith(" (deleted)") and files[0][1] > 0,
        "the AXFR's first message is in an unlinked file in $TMPDIR: %s" % files)
h.check(os.listdir(spool_dir) == [], "nothing left in the directory: %s" %
        os.listdir(spool_dir))
dt = wait_for(lambda: "closed before its end" in spsec.log_text(), 10)
h.check(dt is not None and spool_files(spsec) == [] and
        (answers(spsec, "ns1.sp.") or ("",))[0] == "REFUSED",
        "cut off: the file is closed, nothing stored: %s" % (spool_files(spsec),))
fs.cut = False
notify(spsec, "sp.", fs.addr)
dt = wait_for(lambda: (answers(spsec, "ns1.sp.") or ("", []))[1] ==
              ["ns1.sp. 300 IN A 192.0.2.1"], 15)
h.check(dt is not None and spool_files(spsec) == [],
        "a whole AXFR is loaded from it, and it is closed: %s" % (spool_files(spsec),))
h.stop(spsec)

# ---- a large zone: tierdns primary -> secondary -> its secondary ----
pdb = os.path.join(h.tmp, "pdb")
zf = os.path.join(h.tmp, "big.zone")
with open(zf, "w") as f:
    f.write("$ORIGIN big.\n$TTL 300\n@ SOA ns1 hm 1 3600 600 86400 300\n@ NS ns1\n"
            "ns1 A 192.0.2.1\n")
    for i in range(BIG):
        f.write("h%d A 10.%d.%d.%d\n" % (i, i >> 16 & 255, i >> 8 & 255, i & 255))
h.zone_load(pdb, zf)
s1_port = hl.rand_port()
s2_port = hl.rand_port()
pconf = hl.write(os.path.join(h.tmp, "p.conf"), """zones:
  - name: big.
    allow-transfer: [127.0.0.1]
    notify: ["127.0.0.1:%d"]
""" % s1_port)
prim = h.start_upper("PRIMARY", pdb, "-c", pconf, "-t", "1", addr="127.0.0.1")
s1conf = hl.write(os.path.join(h.tmp, "s1.conf"), """zones:
  - name: big.
    primaries: ["127.0.0.1:%d"]
    allow-transfer: [127.0.0.1]
    notify: ["127.0.0.1:%d"]
""" % (prim.port, s2_port))
s1 = h.start_upper("SEC1", os.path.join(h.tmp, "s1db"), "-c", s1conf, "-t", "1",
                   addr="127.0.0.1", port=s1_port)
s2conf = hl.write(os.path.join(h.tmp, "s2.conf"), """zones:
  - name: big.
    primaries: ["127.0.0.1:%d"]
""" % s1_port)
s2 = h.start_upper("SEC2", os.path.join(h.tmp, "s2db"), "-c", s2conf, "-t", "1",
                   addr="127.0.0.1", port=s2_port)
last = "h%d.big." % (BIG - 1)
for d in (s1, s2):
    dt = wait_for(lambda: (answers(d, last) or ("",))[0] == "NOERROR", 120)
    h.check(dt is not None, "%s: the %d-record zone by AXFR" % (d.label, BIG))
r = h.zone(pdb, "add", "fresh.big. 300 IN A 192.0.2.123")
h.check(r.returncode == 0, "add on the primary: %s" % r.stderr)
for d in (s1, s2):
    dt = wait_for(lambda: (answers(d, "fresh.big.") or ("", []))[1] ==
                  ["fresh.big. 300 IN A 192.0.2.123"], 20)
    line = [x for x in stored_lines(d) if "serial 2" in x]
    h.check(dt is not None and len(line) == 1 and
            "IXFR, 1 difference sequence: 1 records deleted, 2 added, 2 RRsets written"
            in line[0], "%s: one record by IXFR, two RRsets written: %s" % (d.label, line))
r = subprocess.run([os.path.join(hl.BUILD, "tierdns-zone"), "--db",
                    os.path.join(h.tmp, "s1db"), "list"], capture_output=True, text=True)
row = [x.split() for x in r.stdout.splitlines() if x.startswith("big.")]
h.check(len(row) == 1 and row[0][1:4] == ["2", str(BIG + 4), str(BIG + 4)],
        "the zone's serial and counts follow the diff: %s" % r.stdout)
h.finish()
