#!/usr/bin/python3
"""tierdns-upper as a secondary (issue 13), fed by a tierdns-upper primary
and by scripted primaries:

  - the zone absent: AXFR at start; answers equal the primary's;
  - tierdns-zone add on the primary -> NOTIFY -> IXFR -> the secondary
    answers the new record (the time it took is asserted), and a delete;
  - TSIG: primary-key signs the secondary's queries (the SOA queries
    too: a scripted primary checks), the primary only allows the key; a
    wrong key transfers nothing;
  - NOTIFY from an address that is not a primary: REFUSED; for a zone we
    are no secondary for: NOTAUTH; both change nothing;
  - a transfer cut off half-way (a scripted primary closes after the
    first message) changes nothing: the old zone keeps being served;
  - past the SOA's expire without a primary: SERVFAIL, logged; back when
    a refresh succeeds again;
  - tierdns-control zone status: primaries, serial, last and next refresh;
    zone reload: a zone whose primary changed without a NOTIFY (refresh an
    hour away) is checked and transferred at once; on a zone that is no
    secondary zone it is an error.
"""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.rrset  # noqa: E402

h = hl.Harness("test_xfr_secondary")

SECRET = "J934A3sKT3aC5E+X2MgVcBklFlL50rx1FjqidLkztMY="
ZONE = """$ORIGIN example.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.2
www AAAA 2001:db8::2
mail MX 10 www
*.wild TXT "wild"
"""


def answers(d, name, rdtype="A"):
    m, _ = hl.query(d, name, rdtype)
    if m is None:
        return None
    return (dns.rcode.to_text(m.rcode()),
            sorted(rrset.to_text() for rrset in m.answer),
            sorted(rrset.to_text() for rrset in m.authority))


def wait_for(fn, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = fn()
        if v:
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


# ---- a tierdns primary, a tierdns secondary ----
pdb = os.path.join(h.tmp, "pdb")
h.zone_load(pdb, hl.write(os.path.join(h.tmp, "example.zone"), ZONE))
sec_addr = hl.rand_addr()
sec_port = hl.rand_port()
pconf = hl.write(os.path.join(h.tmp, "p.conf"), """keys:
  - name: xfr-key
    secret: "%s"
zones:
  - name: example.
    allow-transfer-key: [xfr-key]
    notify: ["%s:%d"]
""" % (SECRET, sec_addr, sec_port))
# On 127.0.0.1: its NOTIFYs leave from the address the kernel picks for
# loopback destinations, and the secondary accepts them from its primaries'
# addresses only.
prim = h.start_upper("PRIMARY", pdb, "-c", pconf, "-t", "1", addr="127.0.0.1")

sdb = os.path.join(h.tmp, "sdb")
sconf = hl.write(os.path.join(h.tmp, "s.conf"), """keys:
  - name: xfr-key
    secret: "%s"
zones:
  - name: example.
    primaries: ["%s:%d"]
    primary-key: xfr-key
""" % (SECRET, prim.addr, prim.port))
ctl_sock = os.path.join(h.tmp, "sec.ctl")
sec = h.start_upper("SECONDARY", sdb, "-c", sconf, "-t", "2", "--control", ctl_sock,
                    addr=sec_addr, port=sec_port)

dt = wait_for(lambda: (answers(sec, "www.example.") or ("",))[0] == "NOERROR", 5)
h.check(dt is not None, "the secondary transfers the zone at start")
for name, t in [("www.example.", "A"), ("www.example.", "AAAA"), ("example.", "SOA"),
                ("example.", "NS"), ("x.wild.example.", "TXT"), ("nope.example.", "A"),
                ("mail.example.", "MX"), ("www.example.", "TXT")]:
    a, b = answers(prim, name, t), answers(sec, name, t)
    h.check(a == b and a is not None, "%s %s: the secondary answers as the primary: "
            "%s vs %s" % (name, t, a, b))

t0 = time.monotonic()
r = h.zone(pdb, "add", "fresh.example. 300 IN A 192.0.2.123")
h.check(r.returncode == 0, "add on the primary")
dt = wait_for(lambda: (answers(sec, "fresh.example.") or ("", []))[1] ==
              ["fresh.example. 300 IN A 192.0.2.123"], 5)
h.check(dt is not None and dt < 2.0, "add -> NOTIFY -> IXFR -> served in %s s" %
        (None if dt is None else "%.3f" % (time.monotonic() - t0)))
h.check("IXFR" in sec.log_text(), "the change came by IXFR: %s" %
        [line for line in sec.log_text().splitlines() if "stored" in line])
r = h.zone(pdb, "delete", "www.example.", "AAAA")
dt = wait_for(lambda: (answers(sec, "www.example.", "AAAA") or ("", ["x"]))[1] == [], 5)
h.check(dt is not None, "a delete reaches the secondary")
a, b = answers(prim, "example.", "SOA"), answers(sec, "example.", "SOA")
h.check(a == b and "3" in a[1][0].split(), "serials agree: %s %s" % (a, b))

# ---- the control surface: zone status of a secondary zone ----
import subprocess  # noqa: E402
r = subprocess.run([os.path.join(hl.BUILD, "tierdns-control"), "-s", ctl_sock, "zone",
                    "status", "example."], capture_output=True, text=True, timeout=10)
h.check(r.returncode == 0 and "secondary of: %s:%d (TSIG)" % (prim.addr, prim.port)
        in r.stdout and "serial: 3" in r.stdout and "last refresh: 20" in r.stdout and
        "next refresh: in " in r.stdout and "expired: no" in r.stdout,
        "tierdns-control zone status shows the secondary zone: %s" % (r.stdout + r.stderr))

# ---- NOTIFY from others ----
q = dns.message.make_query("example.", "SOA")
q.set_opcode(4)
m = dns.message.from_wire(hl.udp_exchange(sec.addr, sec.port, q.to_wire(), src="127.0.0.9"))
h.check(m.rcode() == dns.rcode.REFUSED and m.opcode() == 4,
        "NOTIFY from an address that is no primary: REFUSED (%s)" % dns.rcode.to_text(m.rcode()))
q = dns.message.make_query("other.", "SOA")
q.set_opcode(4)
m = dns.message.from_wire(hl.udp_exchange(sec.addr, sec.port, q.to_wire(), src=prim.addr))
h.check(m.rcode() == dns.rcode.NOTAUTH, "NOTIFY for a zone we are no secondary for: NOTAUTH")
q = dns.message.make_query("example.", "SOA")
q.set_opcode(4)
m = dns.message.from_wire(hl.udp_exchange(sec.addr, sec.port, q.to_wire(), src=prim.addr))
h.check(m.rcode() == 0 and m.opcode() == 4 and len(m.question) == 1,
        "NOTIFY from the primary: NOERROR, the question echoed")

# ---- a wrong key transfers nothing ----
with open(sconf) as f:
    wrong = hl.write(os.path.join(h.tmp, "w.conf"), f.read().replace(
        SECRET, "d3Jvbmd3cm9uZ3dyb25nd3Jvbmd3cm9uZ3dyb25nMTI="))
wdb = os.path.join(h.tmp, "wdb")
wsec = h.start_upper("WRONGKEY", wdb, "-c", wrong, "-t", "1")
time.sleep(1.5)
a = answers(wsec, "www.example.")
h.check(a is not None and a[0] == "REFUSED", "a secondary with a wrong key gets no zone: "
        "%s" % (a,))
h.check("TSIG" in wsec.log_text() or "rcode 9" in wsec.log_text() or
        "does not verify" in wsec.log_text(), "the failure is logged")
h.stop(wsec)

h.stop(sec)
h.stop(prim)


# ---- scripted primaries: a cut-off transfer, expiry ----
FakePrimary = hl.ScriptedPrimary


fp = FakePrimary(1, expire=4)
fp.cut = False
cdb = os.path.join(h.tmp, "cdb")
cconf = hl.write(os.path.join(h.tmp, "c.conf"), """zones:
  - name: cut.
    primaries: ["%s:%d"]
""" % (fp.addr, fp.port))
csec = h.start_upper("CUTSEC", cdb, "-c", cconf, "-t", "1")
dt = wait_for(lambda: (answers(csec, "ns1.cut.") or ("", []))[1] ==
              ["ns1.cut. 300 IN A 192.0.2.1"], 5)
h.check(dt is not None, "the zone from the scripted primary: %s" % (answers(csec, "ns1.cut."),))
fp.serial = 2
fp.cut = True
q = dns.message.make_query("cut.", "SOA")
q.set_opcode(4)
hl.udp_exchange(csec.addr, csec.port, q.to_wire(), src=fp.addr)
time.sleep(1.0)
h.check("closed before its end" in csec.log_text(),
        "the cut-off transfer is noticed: %s" % csec.log_text()[-300:])
h.check(answers(csec, "ns1.cut.")[1] == ["ns1.cut. 300 IN A 192.0.2.1"] and
        "1 1 1 4 300" in answers(csec, "cut.", "SOA")[1][0],
        "a transfer cut off half-way changes nothing: %s" % (answers(csec, "cut.", "SOA"),))

# Expiry: the primary goes silent; expire is 4 s.
fp.up = False
dt = wait_for(lambda: (answers(csec, "ns1.cut.") or ("",))[0] == "SERVFAIL", 10)
h.check(dt is not None, "past expire without a primary: SERVFAIL")
h.check("expire" in csec.log_text(), "expiry is logged")
fp.up = True
fp.cut = False
dt = wait_for(lambda: (answers(csec, "ns1.cut.") or ("",))[0] == "NOERROR", 8)
h.check(dt is not None, "a primary that answers again brings the zone back")
h.stop(csec)

# A zone with a key: its SOA queries are signed too, and the signed
# answers verified (the change is fetched).
import dns.tsigkeyring  # noqa: E402
fpk = FakePrimary(1, refresh=3600, keyring=dns.tsigkeyring.from_text({"xfr-key.": SECRET}))
fpk.cut = False
kdb = os.path.join(h.tmp, "kdb")
kconf = hl.write(os.path.join(h.tmp, "k.conf"), """keys:
  - name: xfr-key
    secret: "%s"
zones:
  - name: cut.
    primaries: ["%s:%d"]
    primary-key: xfr-key
""" % (SECRET, fpk.addr, fpk.port))
ksec = h.start_upper("KEYSEC", kdb, "-c", kconf, "-t", "1")
dt = wait_for(lambda: (answers(ksec, "ns1.cut.") or ("", []))[1] ==
              ["ns1.cut. 300 IN A 192.0.2.1"], 5)
h.check(dt is not None, "a signed transfer from the scripted primary")
fpk.serial = 2
q = dns.message.make_query("cut.", "SOA")
q.set_opcode(4)
hl.udp_exchange(ksec.addr, ksec.port, q.to_wire(), src=fpk.addr)
dt = wait_for(lambda: (answers(ksec, "ns1.cut.") or ("", []))[1] ==
              ["ns1.cut. 300 IN A 192.0.2.2"], 5)
h.check(dt is not None, "NOTIFY -> signed SOA query -> signed answer verified -> transfer")
h.check(len(fpk.soa_signed) > 0 and all(x is True for x in fpk.soa_signed),
        "every SOA query of a zone with a key carries a valid TSIG: %s" % fpk.soa_signed)
h.stop(ksec)

# zone reload: the primary changes without a NOTIFY, its refresh an hour away.
fp2 = FakePrimary(1, refresh=3600)
fp2.cut = False
rdb = os.path.join(h.tmp, "rdb")
rconf = hl.write(os.path.join(h.tmp, "r.conf"), """zones:
  - name: cut.
    primaries: ["%s:%d"]
""" % (fp2.addr, fp2.port))
rsock = os.path.join(h.tmp, "r.ctl")
rsec = h.start_upper("RELOADSEC", rdb, "-c", rconf, "-t", "1", "--control", rsock)
dt = wait_for(lambda: (answers(rsec, "ns1.cut.") or ("", []))[1] ==
              ["ns1.cut. 300 IN A 192.0.2.1"], 5)
h.check(dt is not None, "zone reload: the zone at serial 1")
fp2.serial = 2
time.sleep(1.5)
h.check(answers(rsec, "ns1.cut.")[1] == ["ns1.cut. 300 IN A 192.0.2.1"],
        "without a NOTIFY nothing is fetched before the refresh")
ctl = os.path.join(hl.BUILD, "tierdns-control")
r = subprocess.run([ctl, "-s", rsock, "zone", "reload", "cut."], capture_output=True, text=True)
h.check(r.returncode == 0, "tierdns-control zone reload cut.: %s" % (r.stdout + r.stderr))
dt = wait_for(lambda: (answers(rsec, "ns1.cut.") or ("", []))[1] ==
              ["ns1.cut. 300 IN A 192.0.2.2"], 5)
h.check(dt is not None, "after zone reload the new version is served (%s)" %
        (answers(rsec, "ns1.cut."),))
r = subprocess.run([ctl, "-s", rsock, "zone", "reload", "nosuch."], capture_output=True,
                   text=True)
h.check(r.returncode == 1 and "no secondary zone" in r.stderr,
        "zone reload of a zone that is no secondary zone is an error: %s" % r.stderr)
h.stop(rsec)
h.finish()
