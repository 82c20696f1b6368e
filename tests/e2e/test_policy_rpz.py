#!/usr/bin/python3
"""Response policy zones (issue 16): QNAME triggers from a zone file, each
action answered as BIND and Unbound do (NXDOMAIN, NODATA, PASSTHRU, DROP,
TCP-ONLY, local data), exact triggers before wildcards, the triggers of
the names a CNAME chain leads to (an alias cannot hide a blocked name, as
Unbound 1.14 on, BIND and PowerDNS), blocked answers
with EDE 15 Blocked (RFC 8914) when the query has EDNS; local-data wins
over a trigger; IP triggers are left out with a warning; the file is read
again when it changes; a broken file at start stops the daemon with
FILE:LINE, at a reload keeps the running policy. A fake upstream records
what reached it."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.edns  # noqa: E402
import dns.rdatatype  # noqa: E402

import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_policy_rpz")
# Names the upstream answers with a CNAME chain (the alias, then the
# target's A): the triggers apply to the targets too (CNAME cloaking).
CHAINS = {
    "cloak.site.": ("cdn.ads.example.", "192.0.2.9"),
    "cloak2.site.": ("x.y.ads.example.", "192.0.2.9"),
    "nodatachain.site.": ("nodata.example.", "192.0.2.9"),
    "walledchain.site.": ("walled.example.", "192.0.2.9"),
    "dropchain.site.": ("drop.example.", "192.0.2.9"),
    "passchain.site.": ("pass.ads.example.", "192.0.2.9"),
    "cleanchain.site.": ("cdn.clean.example.", "192.0.2.9"),
}


def answering(u, s):
    if s.msg is None:
        return None
    name = s.msg.question[0].name.to_text().lower()
    if name in CHAINS:
        target, addr = CHAINS[name]
        return [("send", hl.reply(s, answer=["%s 300 IN CNAME %s" % (name, target),
                                             "%s 300 IN A %s" % (target, addr)]))]
    return [("send", hl.a_reply(s, "192.0.2.1"))]


up = hl.FakeUpstream(h, answering)
zone = os.path.join(h.tmp, "block.rpz")
ZONE = """$TTL 300
$ORIGIN rpz.local.
@ SOA localhost. root.localhost. 1 3600 600 86400 300
@ NS localhost.
ads.example CNAME .
*.ads.example CNAME .
nodata.example CNAME *.
pass.ads.example CNAME rpz-passthru.
drop.example CNAME rpz-drop.
tcp.example CNAME rpz-tcp-only.
walled.example A 10.10.10.10
walled.example TXT "blocked"
cn.example CNAME walled.garden.
mine.example CNAME .
24.0.2.0.192.rpz-ip CNAME .
"""
with open(zone, "w") as f:
    f.write(ZONE)
local = h.start_local("LOCAL", os.path.join(h.tmp, "db"), [up.endpoint], "--rpz", zone,
                      "--local-data", "mine.example. A 10.0.0.7", "-t", "1")


def ede(m):
    if m is None:
        return None
    for o in m.options:
        if o.otype == 15:
            return o.code
    return None


def rrs(m, t):
    return [] if m is None else [r.to_text() for s in m.answer if s.rdtype == t for r in s]


# name, type, tcp, rcode, answer check, blocked (EDE 15), asked upstream
TABLE = [
    ("ads.example.", "A", False, "NXDOMAIN", None, True, False),
    ("x.y.ads.example.", "AAAA", False, "NXDOMAIN", None, True, False),
    ("pass.ads.example.", "A", False, "NOERROR", ["192.0.2.1"], False, True),
    ("sub.pass.ads.example.", "A", False, "NXDOMAIN", None, True, False),
    ("nodata.example.", "A", False, "NOERROR", [], True, False),
    ("drop.example.", "A", False, "NONE", None, False, False),
    ("walled.example.", "A", False, "NOERROR", ["10.10.10.10"], True, False),
    ("walled.example.", "TXT", False, "NOERROR", None, True, False),
    ("walled.example.", "AAAA", False, "NOERROR", [], True, False),
    ("cn.example.", "A", False, "NOERROR", None, True, False),
    ("mine.example.", "A", False, "NOERROR", ["10.0.0.7"], False, False),
    ("tcp.example.", "A", True, "NOERROR", ["192.0.2.1"], False, True),
    ("example.", "A", False, "NOERROR", ["192.0.2.1"], False, True),
    ("other.example.", "A", False, "NOERROR", ["192.0.2.1"], False, True),
]
for name, qtype, tcp, rcode, addrs, blocked, asked in TABLE:
    before = up.count(name)
    m, _ = hl.query(local, name, qtype, tcp=tcp, edns=True, timeout=1.5 if rcode == "NONE" else 4)
    label = "%s %s%s" % (name, qtype, " tcp" if tcp else "")
    h.check(hl.rcode_text(m) == rcode, "%s: rcode %s, want %s" % (label, hl.rcode_text(m), rcode))
    if addrs is not None and m is not None:
        got = rrs(m, dns.rdatatype.from_text(qtype))
        h.check(got == addrs, "%s: answer %s, want %s" % (label, got, addrs))
    if m is not None:
        h.check((ede(m) == 15) == blocked, "%s: EDE %s, want %s" %
                (label, ede(m), "15" if blocked else "none"))
    h.check((up.count(name) > before) == asked, "%s: upstream asked: %s, want %s" %
            (label, up.count(name) > before, asked))
# CNAME chains from the upstream: the first target with a trigger cuts
# the chain after its CNAME and answers by its action, the miss and the
# cache hit after it alike; PASSTHRU and untriggered targets pass.
# name, rcode, A records, blocked
CHAIN_TABLE = [
    ("cloak.site.", "NXDOMAIN", [], True),
    ("cloak2.site.", "NXDOMAIN", [], True),
    ("nodatachain.site.", "NOERROR", [], True),
    ("walledchain.site.", "NOERROR", ["10.10.10.10"], True),
    ("dropchain.site.", "NONE", None, False),
    ("passchain.site.", "NOERROR", ["192.0.2.9"], False),
    ("cleanchain.site.", "NOERROR", ["192.0.2.9"], False),
]
for name, rcode, addrs, blocked in CHAIN_TABLE:
    for attempt in ("miss", "hit"):
        m, _ = hl.query(local, name, "A", edns=True, timeout=1.5 if rcode == "NONE" else 4)
        label = "%s (%s)" % (name, attempt)
        h.check(hl.rcode_text(m) == rcode, "%s: rcode %s, want %s" %
                (label, hl.rcode_text(m), rcode))
        if m is None:
            continue
        h.check(rrs(m, dns.rdatatype.CNAME) == [CHAINS[name][0]],
                "%s: the alias's CNAME kept: %s" % (label, m))
        h.check(rrs(m, dns.rdatatype.A) == addrs, "%s: A %s, want %s" %
                (label, rrs(m, dns.rdatatype.A), addrs))
        h.check((ede(m) == 15) == blocked, "%s: EDE %s, want %s" %
                (label, ede(m), "15" if blocked else "none"))
    h.check(up.count(name) == 1, "%s: asked upstream %d times, want 1 (then cached)" %
            (name, up.count(name)))
m, _ = hl.query(local, "cn.example.", "A", edns=True)
h.check(rrs(m, dns.rdatatype.CNAME) == ["walled.garden."], "cn.example.: CNAME local data: %s" % m)
m, _ = hl.query(local, "walled.example.", "TXT")
h.check(rrs(m, dns.rdatatype.TXT) == ['"blocked"'], "walled.example. TXT: %s" % m)
# TCP-ONLY over UDP: truncated, no answer
m, _ = hl.query(local, "tcp.example.", "A")
h.check(m is not None and (m.flags & 0x0200) and not m.answer,
        "tcp.example. over UDP: TC without an answer: %s" % m)
h.check("IP, NSDNAME, NSIP or client-IP triggers left out" in local.log_text(),
        "an IP trigger is reported as left out")

# The file changes: read again by itself.
with open(zone, "a") as f:
    f.write("other.example CNAME .\n")
deadline = time.time() + 8
while time.time() < deadline:
    m, _ = hl.query(local, "new.other.example.", "A")
    m, _ = hl.query(local, "other.example.", "A")
    if hl.rcode_text(m) == "NXDOMAIN":
        break
    time.sleep(0.3)
h.check(hl.rcode_text(m) == "NXDOMAIN", "other.example. after the RPZ file changed: %s" % m)

# A broken file at a reload: the running policy stays.
with open(zone, "a") as f:
    f.write("broken.example A not-an-address\n")
deadline = time.time() + 8
while time.time() < deadline and "the running policy stays" not in local.log_text():
    time.sleep(0.2)
h.check("block.rpz:17:" in local.log_text() and "the running policy stays" in local.log_text(),
        "a broken RPZ file at reload: FILE:LINE and the running policy stays: %s" %
        local.log_text()[-1500:])
m, _ = hl.query(local, "ads.example.", "A")
h.check(hl.rcode_text(m) == "NXDOMAIN", "ads.example. after a broken reload: %s" % m)
h.stop(local)

# At start, a broken or missing file stops the daemon.
for text, want in ((None, "No such file"), ("www A 10.0.0.1\n", "must begin with its SOA"),
                   (ZONE + "x.example CNAME\n", "block.rpz:16:"),
                   ("$ORIGIN rpz.local.\n@ SOA a. b. 1 2 3 4 5\nfoo.other. CNAME .\n",
                    "outside the zone")):
    if text is None:
        os.unlink(zone)
    else:
        with open(zone, "w") as f:
            f.write(text)
    r = subprocess.run([hl.LOCAL_BIN, "--rpz", zone, "-d", os.path.join(h.tmp, "db2"), "-l",
                        hl.rand_addr(), "-p", str(hl.rand_port()), "--control", "none"],
                       capture_output=True, text=True, timeout=20)
    h.check(r.returncode != 0 and want in r.stderr, "bad RPZ file %r: status %d, %s" %
            (text, r.returncode, r.stderr.strip()[-300:]))
h.finish()
