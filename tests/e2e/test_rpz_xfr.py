#!/usr/bin/python3
"""Response policy zones kept current by zone transfer (issue 16), with
tierdns-upper as the RPZ primary:

  - rpz.test. (rpz: stanza, Unbound's name/primary/zonefile): AXFR at the
    local's start; its blocked name is NXDOMAIN with EDE 15; then
    tierdns-zone add/delete on the upper (serial bump, NOTIFY to the
    local, SOA refresh an hour away) -> within seconds the new name is
    blocked and the deleted one resolved again, by IXFR, without restart;
    the transferred zone is written to its zonefile;
  - rpz2.test. (primary-key: TSIG; the upper allows its transfer only to
    the key): AXFR, then a change picked up by the SOA refresh (2 s)
    without NOTIFY;
  - NOTIFY from an address that is not the zone's primary: REFUSED; for a
    zone the local does not transfer: NOTAUTH; a local without
    rpz-primary answers NOTIFY NOTIMP, as before;
  - the primary stopped: the local keeps the last policy (and says why in
    its log); restarted with the primary still down, the local serves the
    zone its zonefile kept; a zonefile that makes no policy is left out;
  - tierdns-control zone status shows an RPZ's primary and serial, zone
    reload starts an SOA check;
  - a scripted primary (--rpz-primary flag, memory only), silent at the
    local's start: asked again after 10 s (not the SOA's usual 600 s retry
    of a zone not held yet); a transfer cut
    off half-way and a transfer that makes no policy (a name outside the
    zone) leave the last policy, logged; the next good one applies; one
    trickled past --transfer-time-in is given up, the last policy kept.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.message  # noqa: E402
import dns.opcode  # noqa: E402
import dns.rcode  # noqa: E402
import dns.flags  # noqa: E402

h = hl.Harness("test_rpz_xfr")

SECRET = "J934A3sKT3aC5E+X2MgVcBklFlL50rx1FjqidLkztMY="
RPZ = """$ORIGIN rpz.test.
$TTL 300
@ SOA localhost. hostmaster.localhost. 1 3600 600 86400 300
@ NS localhost.
bad.example CNAME .
*.ads.example CNAME .
walled.example A 10.10.10.10
"""
RPZ2 = """$ORIGIN rpz2.test.
$TTL 300
@ SOA localhost. hostmaster.localhost. 1 2 2 86400 300
@ NS localhost.
tsig.example CNAME .
"""


def blocked(m):
    """NXDOMAIN with EDE 15 Blocked (RFC 8914 4.16)."""
    return (m is not None and m.rcode() == dns.rcode.NXDOMAIN and
            any(o.otype == 15 and o.code == 15 for o in m.options))


def resolved(m):
    return m is not None and m.rcode() == dns.rcode.NOERROR and \
        "192.0.2.1" in hl.answer_addrs(m)


def ask(d, name):
    m, _ = hl.query(d, name, "A", edns=True, timeout=2)
    return m


up_db = os.path.join(h.tmp, "up")
h.zone_load(up_db, hl.write(os.path.join(h.tmp, "rpz.zone"), RPZ),
            hl.write(os.path.join(h.tmp, "rpz2.zone"), RPZ2))
fake = hl.FakeUpstream(h, lambda u, s: [("send", hl.a_reply(s, "192.0.2.1"))]
                       if s.msg else None)

# The local's address is fixed before the upper starts: the upper's
# NOTIFY goes there. The upper listens on 127.0.0.1, the source address
# of what it sends, so that its NOTIFY comes from the configured primary.
l_addr, l_port = hl.rand_addr(), hl.rand_port()
up_conf = hl.write(os.path.join(h.tmp, "upper.conf"), """keys:
  - name: rpz-key
    algorithm: hmac-sha256
    secret: "%s"
zones:
  - name: rpz.test.
    allow-transfer: [127.0.0.1]
    notify: ["%s:%d"]
  - name: rpz2.test.
    allow-transfer-key: [rpz-key]
""" % (SECRET, l_addr, l_port))
up = h.start_upper("UPPER", up_db, "-c", up_conf, "-t", "1", addr="127.0.0.1")
u_port = up.port

zonefile = os.path.join(h.tmp, "rpz-kept.zone")
local_conf = hl.write(os.path.join(h.tmp, "local.conf"), """keys:
  - name: rpz-key
    algorithm: hmac-sha256
    secret: "%s"
rpz:
  - name: rpz.test.
    primary: 127.0.0.1:%d
    zonefile: %s
  - name: rpz2.test.
    primary: ["127.0.0.1:%d"]
    primary-key: rpz-key
""" % (SECRET, u_port, zonefile, u_port))
local_db = os.path.join(h.tmp, "local")
ctl = os.path.join(h.tmp, "local.ctl")
local = h.start_local("LOCAL", local_db, [fake.endpoint], "-c", local_conf, "-t", "1",
                      "--control", ctl, addr=l_addr, port=l_port)

# ---- the first transfer (AXFR) ----
h.check(hl.wait_for(lambda: blocked(ask(local, "bad.example.")), 10) is not None,
        "bad.example. blocked (NXDOMAIN, EDE 15) after the AXFR at start")
h.check(hl.wait_for(lambda: blocked(ask(local, "tsig.example.")), 10) is not None,
        "tsig.example. blocked: rpz2.test. transferred with TSIG")
h.check(blocked(ask(local, "x.ads.example.")), "the wildcard trigger *.ads.example.")
m = ask(local, "walled.example.")
h.check(m is not None and "10.10.10.10" in hl.answer_addrs(m), "local data of the RPZ")
h.check(resolved(ask(local, "good.example.")), "good.example. resolved upstream")
log = local.log_text()
h.check("rpz rpz.test.: serial 1 applied (AXFR" in log,
        "the AXFR is logged with its serial: %s" %
        [l for l in log.splitlines() if "rpz" in l][-5:])
h.check("RPZ triggers in the policy" in log, "the log line counts the triggers")
h.check("rpz rpz2.test.: serial 1 applied (AXFR" in log, "rpz2.test. AXFR logged")
h.check("rpz rpz2.test. by transfer from 127.0.0.1:%d with TSIG" % u_port in log,
        "rpz2.test.'s primary is asked with TSIG")
h.check(os.path.exists(zonefile) and "bad.example.rpz.test." in open(zonefile).read(),
        "the transferred zone is written to its zonefile")

# An unsigned transfer of rpz2.test. is refused by the upper: the local's
# transfer above was signed.
data = hl.tcp_exchange(up.addr, up.port, dns.message.make_query("rpz2.test.", "AXFR").to_wire(),
                       timeout=3)
m = dns.message.from_wire(data) if data else None
h.check(m is not None and m.rcode() == dns.rcode.REFUSED,
        "an unsigned AXFR of rpz2.test. is REFUSED by the upper (%s)" % hl.rcode_text(m))

# ---- a change, NOTIFY, IXFR ----
t0 = time.monotonic()
r = h.zone(up_db, "add", "new.example.rpz.test. 300 IN CNAME .")
h.check(r.returncode == 0, "tierdns-zone add: %s" % (r.stdout + r.stderr))
r = h.zone(up_db, "delete", "bad.example.rpz.test.", "CNAME")
h.check(r.returncode == 0, "tierdns-zone delete: %s" % (r.stdout + r.stderr))
took = hl.wait_for(lambda: blocked(ask(local, "new.example.")) and
                resolved(ask(local, "bad.example.")), 8)
h.check(took is not None, "after add/delete on the primary, new.example. is blocked and "
        "bad.example. resolved, without restart")
if took is not None:
    h.log("change seen by the local %.2f s after tierdns-zone add" % (time.monotonic() - t0))
log = local.log_text()
h.check("rpz rpz.test.: serial 3 applied (IXFR" in log,
        "the change came by IXFR: %s" % [l for l in log.splitlines() if "rpz.test" in l][-4:])
h.check(hl.wait_for(lambda: "new.example.rpz.test." in open(zonefile).read() and
                    "bad.example.rpz.test." not in open(zonefile).read(), 3) is not None,
        "the zonefile holds the new zone (written after the policy is swapped)")

# ---- tierdns-control: zone status and zone reload of an RPZ ----
r = subprocess.run([hl.CONTROL_BIN, "-s", ctl, "zone", "status", "rpz.test."],
                   capture_output=True, text=True, timeout=15)
h.check(r.returncode == 0 and "response policy zone from: 127.0.0.1:%d" % u_port in r.stdout
        and "serial: 3" in r.stdout and "expired: no" in r.stdout,
        "tierdns-control zone status shows the RPZ's primary and serial: %s" %
        (r.stdout + r.stderr))
r = subprocess.run([hl.CONTROL_BIN, "-s", ctl, "zone", "reload", "rpz.test."],
                   capture_output=True, text=True, timeout=15)
h.check(r.returncode == 0 and "SOA check" in r.stdout,
        "tierdns-control zone reload starts an SOA check: %s" % (r.stdout + r.stderr))

# ---- the SOA refresh (rpz2.test.: refresh 2 s, no NOTIFY) ----
r = h.zone(up_db, "add", "tsig2.example.rpz2.test. 300 IN CNAME .")
h.check(r.returncode == 0, "tierdns-zone add to rpz2.test.")
h.check(hl.wait_for(lambda: blocked(ask(local, "tsig2.example.")), 10) is not None,
        "rpz2.test.'s change is picked up by the SOA refresh")

# ---- NOTIFY from others ----
def notify(zone, src, d=None):
    d = d or local
    q = dns.message.make_query(zone, "SOA")
    q.flags = dns.flags.AA  # and RD clear
    q.set_opcode(dns.opcode.NOTIFY)
    data = hl.udp_exchange(d.addr, d.port, q.to_wire(), timeout=2, src=src)
    return dns.message.from_wire(data) if data else None


m = notify("rpz.test.", "127.0.0.1")
h.check(m is not None and m.rcode() == dns.rcode.NOERROR and m.opcode() == dns.opcode.NOTIFY,
        "NOTIFY from the primary: NOERROR (%s)" % hl.rcode_text(m))
m = notify("rpz.test.", "127.0.0.2")
h.check(m is not None and m.rcode() == dns.rcode.REFUSED,
        "NOTIFY from an address that is not the primary: REFUSED (%s)" % hl.rcode_text(m))
m = notify("other.test.", "127.0.0.1")
h.check(m is not None and m.rcode() == dns.rcode.NOTAUTH,
        "NOTIFY for a zone the local does not transfer: NOTAUTH (%s)" % hl.rcode_text(m))

plain = h.start_local("PLAIN", os.path.join(h.tmp, "plain"), [fake.endpoint], "-t", "1")
m = notify("rpz.test.", "127.0.0.1", plain)
h.check(m is not None and m.rcode() == dns.rcode.NOTIMP,
        "a local without rpz-primary: NOTIFY NOTIMP (%s)" % hl.rcode_text(m))
h.stop(plain)

# ---- the primary gone: the last policy stays ----
h.stop(up)
time.sleep(4)  # two refreshes of rpz2.test. fail meanwhile
h.check(blocked(ask(local, "new.example.")) and blocked(ask(local, "tsig2.example.")) and
        resolved(ask(local, "bad.example.")),
        "with the primary stopped the local keeps the last policy")
h.check("rpz rpz2.test.: primary 127.0.0.1:%d" % u_port in local.log_text(),
        "the failed refresh is logged")
h.stop(local)

# ---- a restart with the primary still down: the zonefile is served ----
local = h.start_local("LOCAL2", local_db, [fake.endpoint], "-c", local_conf, "-t", "1")
h.check(blocked(ask(local, "new.example.")) and resolved(ask(local, "bad.example.")),
        "restarted without its primary, the local serves the zone its zonefile kept")
h.check("from %s until the primary answers" % zonefile in local.log_text(),
        "the zonefile's zone is logged at start")
h.check(not blocked(ask(local, "tsig.example.")),
        "rpz2.test. (no zonefile: memory only) is not kept across a restart")
h.stop(local)
# A zonefile that makes no policy is left out, not fatal.
with open(zonefile, "a") as f:
    f.write("outside.example. 300 IN CNAME .\n")
local = h.start_local("LOCAL2B", local_db, [fake.endpoint], "-c", local_conf, "-t", "1")
h.check("holds no usable zone" in local.log_text() and
        not blocked(ask(local, "new.example.")),
        "a broken zonefile is logged and left out; the local starts without it")
h.stop(local)

# ---- a scripted primary: broken transfers keep the last policy ----
sp = hl.ScriptedPrimary(1, refresh=3600, zone="rpz3.test.")
sp.records = lambda serial: ["rpz3.test. 300 IN NS localhost.",
                             "blk%d.example.rpz3.test. 300 IN CNAME ." % serial] + \
    (["outside.example. 300 IN CNAME ."] if serial == 3 else [])
sp.cut = False
sp.up = False  # silent at the local's start: asked again 10 s later
local = h.start_local("LOCAL3", os.path.join(h.tmp, "local3"), [fake.endpoint], "-t", "1",
                      "--rpz-primary", "rpz3.test.@%s:%d" % (sp.addr, sp.port),
                      "--transfer-time-in", "2")
time.sleep(1)
sp.up = True
h.check(hl.wait_for(lambda: blocked(ask(local, "blk1.example.")), 14) is not None,
        "a primary silent at the start is asked again within 10 s; its zone (serial 1) "
        "is applied")


def notify_from_primary():
    q = dns.message.make_query("rpz3.test.", "SOA")
    q.flags = 0
    q.set_opcode(dns.opcode.NOTIFY)
    data = hl.udp_exchange(local.addr, local.port, q.to_wire(), timeout=2, src=sp.addr)
    return dns.message.from_wire(data).rcode() if data else None


sp.serial, sp.cut = 2, True
h.check(notify_from_primary() == dns.rcode.NOERROR, "NOTIFY from the scripted primary")
h.check(hl.wait_for(lambda: "closed before its end" in local.log_text(), 5) is not None,
        "the cut-off transfer is logged")
h.check(blocked(ask(local, "blk1.example.")) and not blocked(ask(local, "blk2.example.")),
        "a transfer cut off half-way leaves the last policy")
sp.serial, sp.cut = 3, False
notify_from_primary()
h.check(hl.wait_for(lambda: "serial 3 not applied (the policy stays as it was)" in
                    local.log_text(), 5) is not None,
        "a transfer that makes no policy is logged: %s" % local.log_text()[-400:])
h.check(blocked(ask(local, "blk1.example.")) and not blocked(ask(local, "blk3.example.")),
        "a transfer that makes no policy leaves the last policy")
sp.serial = 4
notify_from_primary()
h.check(hl.wait_for(lambda: blocked(ask(local, "blk4.example.")) and
                    not blocked(ask(local, "blk1.example.")), 5) is not None,
        "the next good transfer applies")
sp.serial, sp.trickle = 5, 0.5
notify_from_primary()
h.check(hl.wait_for(lambda: "the transfer took longer than 2 s" in local.log_text(), 6)
        is not None, "a transfer trickled past --transfer-time-in is given up: %s" %
        local.log_text()[-400:])
h.check(blocked(ask(local, "blk4.example.")) and not blocked(ask(local, "blk5.example.")),
        "and leaves the last policy")
sp.trickle = 0
h.stop(local)
h.finish()
