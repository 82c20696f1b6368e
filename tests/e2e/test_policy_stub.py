#!/usr/bin/python3
"""Stub zones (issue 16, Unbound's stub-zone): --stub NAME@ADDR and stub:
stanzas send the questions for NAME and below to the zone's authoritative
servers, without recursion (RD clear), and cache their answers; the other
names still go to --upstream, and a CNAME out of the stub zone is chased
there. A tierdns-upper serves the stub zone; a fake authoritative server
shows the RD bit.

Referrals within the zone are followed, as Unbound's stub-zone does: the
stub zone's server delegates child.stubzone.test. to a second
tierdns-upper (glue within the child, port 53 on a random loopback
address: needs root), whose answers, NXDOMAIN and NODATA reach the client
and are cached. A delegation to a lame server (REFUSED), an address where
nothing listens and a third server is answered by the third. A scripted
server that a delegation leads to refers back
up (a loop), out of the stub zone, or one label deeper every time (the
limit of 8 referrals): SERVFAIL at once, logged with the reason, and the
daemon goes on serving."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.flags  # noqa: E402
import dns.rdatatype  # noqa: E402

import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_policy_stub")

ZONE = """$ORIGIN stubzone.test.
$TTL 300
@      SOA ns hostmaster 1 3600 600 86400 300
@      NS  ns
ns     A   192.0.2.53
www    A   192.0.2.80
out    CNAME www.example.
child  NS  ns.child
ns.child A %(child)s
loop   NS  ns.loop
ns.loop A  %(script)s
away   NS  ns.away
ns.away A  %(script)s
deep   NS  ns.deep
ns.deep A  %(script)s
nsout  NS  ns.elsewhere.example.
lame   NS  ns1.lame
lame   NS  ns2.lame
lame   NS  ns3.lame
ns1.lame A %(script)s
ns2.lame A %(dead)s
ns3.lame A %(good)s
"""

CHILD_ZONE = """$ORIGIN child.stubzone.test.
$TTL 300
@      SOA ns hostmaster 7 3600 600 86400 300
@      NS  ns
ns     A   %(child)s
www    A   192.0.2.90
"""

DEEP = "h.l9.l8.l7.l6.l5.l4.l3.l2.l1.deep.stubzone.test."
ROOT = os.geteuid() == 0


def default_answering(up, s):
    if s.msg is None:
        return None
    return [("send", hl.a_reply(s, "198.51.100.1"))]


def authoritative(up, s):
    """fake.test.'s server: AA answers, as an authoritative server gives."""
    if s.msg is None:
        return None
    m = hl.reply(s, answer=["%s 300 IN A 203.0.113.7" % s.qname_raw])
    r = bytearray(m)
    r[2] |= 0x04  # AA
    return [("send", bytes(r))]


def scripted(up, s):
    """The server the delegations loop., away. and deep. lead to: a
    referral back up to the stub zone, out of it, or one label further
    down than the last time it was asked for the name."""
    if s.msg is None:
        return None
    q = s.qname
    if q.endswith(".loop.stubzone.test."):
        zone, ns = "stubzone.test.", "ns.stubzone.test."
    elif q.endswith(".away.stubzone.test."):
        zone, ns = "example.", "ns.away.stubzone.test."
    elif q.endswith(".deep.stubzone.test."):
        labels = q.split(".")
        zone = ".".join(labels[-(4 + up.count(q)):])
        ns = "ns." + zone
    else:
        return [("send", hl.reply(s, rcode=5))]  # lame for lame.
    return [("send", hl.reply(s, authority=["%s 300 IN NS %s" % (zone, ns)],
                              additional=["%s 300 IN A %s" % (ns, up.addr)], aa=False))]


default = hl.FakeUpstream(h, default_answering)
fake = hl.FakeUpstream(h, authoritative)
child = script = good = None
dead = hl.rand_addr()  # nothing listens there
if ROOT:
    # Glue has no port: the delegated servers listen on 53.
    script = hl.FakeUpstream(h, scripted, port=53)
    good = hl.FakeUpstream(h, authoritative, port=53)
    cz = os.path.join(h.tmp, "child.zone")
    child_db = os.path.join(h.tmp, "child-db")
    child_addr = hl.rand_addr()
    with open(cz, "w") as f:
        f.write(CHILD_ZONE % {"child": child_addr})
    h.zone_load(child_db, cz)
    child = h.start_upper("CHILD", child_db, "-t", "1", addr=child_addr, port=53)
zone = os.path.join(h.tmp, "stub.zone")
with open(zone, "w") as f:
    f.write(ZONE % {"child": child.addr if ROOT else "192.0.2.54",
                    "script": script.addr if ROOT else "192.0.2.55",
                    "good": good.addr if ROOT else "192.0.2.56", "dead": dead})
h.zone_load(os.path.join(h.tmp, "upper-db"), zone)
upper = h.start_upper("UPPER", os.path.join(h.tmp, "upper-db"), "-t", "1")
upper_ep = "%s:%d" % (upper.addr, upper.port)


def rrs(m, rdtype):
    if m is None:
        return []
    return [r.to_text() for rrset in m.answer if rrset.rdtype == rdtype for r in rrset]


def run(local, label):
    # The zone's data, from its server; the default upstream is not asked.
    m, _ = hl.query(local, "www.stubzone.test.", timeout=4)
    h.check(rrs(m, dns.rdatatype.A) == ["192.0.2.80"], "%s: www.stubzone.test.: %s" % (label, m))
    m, _ = hl.query(local, "nx.stubzone.test.", timeout=4)
    h.check(hl.rcode_text(m) == "NXDOMAIN" and m is not None and
            any(r.rdtype == dns.rdatatype.SOA for r in m.authority),
            "%s: nx.stubzone.test.: NXDOMAIN with the zone's SOA, got %s" % (label, m))
    # A CNAME out of the zone: its target from the default upstream.
    m, _ = hl.query(local, "out.stubzone.test.", timeout=4)
    h.check(rrs(m, dns.rdatatype.CNAME) == ["www.example."] and
            rrs(m, dns.rdatatype.A) == ["198.51.100.1"],
            "%s: out.stubzone.test.: the CNAME and its target's answer, got %s" % (label, m))
    h.check(default.count("www.example.") == 1 and default.count("www.stubzone.test.") == 0 and
            default.count("out.stubzone.test.") == 0,
            "%s: the default upstream saw %s" % (label, [s.qname for s in default.queries()]))
    # Other names: the default upstream.
    m, _ = hl.query(local, "elsewhere.example.", timeout=4)
    h.check(rrs(m, dns.rdatatype.A) == ["198.51.100.1"], "%s: elsewhere.example.: %s" % (label, m))
    # Asked without recursion.
    m, _ = hl.query(local, "host.fake.test.", timeout=4)
    h.check(rrs(m, dns.rdatatype.A) == ["203.0.113.7"], "%s: host.fake.test.: %s" % (label, m))
    seen = fake.queries("host.fake.test.")
    h.check(len(seen) == 1 and seen[0].msg is not None and not (seen[0].msg.flags & dns.flags.RD),
            "%s: the stub server was asked with RD clear: %s" %
            (label, [s.msg.flags for s in seen if s.msg is not None]))
    # A delegation whose NS name is out of the child, without glue: not
    # resolved, SERVFAIL with the reason.
    # Counted as servfail.referral, no other reason (issue 14).
    hl.servfail_step(h, CTL, "%s: x.nsout.stubzone.test." % label,
                     lambda: hl.query(local, "x.nsout.stubzone.test.", timeout=4)[0], "SERVFAIL",
                     {"referral": 1})
    h.check("x.nsout.stubzone.test. A: referral from a stub zone's server not followed: no "
            "glue address" in local.log_text(),
            "%s: the unusable referral is logged: %s" % (label, local.log_text()[-1500:]))
    if not ROOT:
        h.skip("%s: referrals to servers on port 53 need root" % label)
        return
    # A referral within the zone is followed: the child's server answers.
    m, _ = hl.query(local, "www.child.stubzone.test.", timeout=4)
    h.check(rrs(m, dns.rdatatype.A) == ["192.0.2.90"] and m is not None and
            m.rcode() == 0, "%s: www.child.stubzone.test.: %s" % (label, m))
    m, _ = hl.query(local, "nx.child.stubzone.test.", timeout=4)
    h.check(hl.rcode_text(m) == "NXDOMAIN" and m is not None and
            any(r.rdtype == dns.rdatatype.SOA and r.name.to_text() == "child.stubzone.test."
                for r in m.authority),
            "%s: nx.child.stubzone.test.: NXDOMAIN with the child's SOA, got %s" % (label, m))
    m, _ = hl.query(local, "www.child.stubzone.test.", "AAAA", timeout=4)
    h.check(hl.rcode_text(m) == "NOERROR" and m is not None and not m.answer and
            any(r.rdtype == dns.rdatatype.SOA and r.name.to_text() == "child.stubzone.test."
                for r in m.authority),
            "%s: www.child.stubzone.test. AAAA: NODATA with the child's SOA, got %s" % (label, m))
    # Referrals that lead nowhere: SERVFAIL at once (a reply well before
    # the 6 s budget: 3 s is an outer bound for a loaded machine), with the
    # reason logged.
    for name, why in (("www.loop.stubzone.test.", "no closer to the name"),
                      ("www.away.stubzone.test.", "outside the stub zone"),
                      (DEEP, "more than 8 referrals")):
        took = []

        def ask(name=name):
            t0 = time.monotonic()
            m, _ = hl.query(local, name, timeout=8)
            took.append(time.monotonic() - t0)
            return m
        hl.servfail_step(h, CTL, "%s: %s" % (label, name), ask, "SERVFAIL", {"referral": 1})
        h.check(took[0] < 3.0, "%s: %s: SERVFAIL at once, got it in %.2f s"
                % (label, name, took[0]))
        h.check("%s A: referral from a stub zone's server not followed" % name in local.log_text()
                and why in local.log_text(),
                "%s: %s: the reason (%s) is logged: %s" % (label, name, why,
                                                           local.log_text()[-1500:]))
    # The delegated zone's servers in turn: a lame one (REFUSED), one
    # that is not there, one that answers.
    m, _ = hl.query(local, "host.lame.stubzone.test.", timeout=4)
    h.check(rrs(m, dns.rdatatype.A) == ["203.0.113.7"],
            "%s: host.lame.stubzone.test.: the third server's answer, got %s" % (label, m))
    h.check(script.count("host.lame.stubzone.test.") == 1 and
            good.count("host.lame.stubzone.test.") == 1,
            "%s: the lame server asked once (%d), then the good one (%d)" %
            (label, script.count("host.lame.stubzone.test."),
             good.count("host.lame.stubzone.test.")))
    # the scripted server was asked after each of 1..8 referrals followed
    h.check(script.count(DEEP) == 8, "%s: %s asked %d times at the delegated server, 8 "
            "expected" % (label, DEEP, script.count(DEEP)))
    h.check(script.count("www.loop.stubzone.test.") == 1,
            "%s: the loop is not asked twice: %d" % (label, script.count("www.loop.stubzone.test.")))
    # still serving
    m, _ = hl.query(local, "www.stubzone.test.", timeout=4)
    h.check(local.alive() and rrs(m, dns.rdatatype.A) == ["192.0.2.80"],
            "%s: serving on after the failed referrals: %s" % (label, m))


def clear():
    for u in (default, fake, script, good):
        if u is None:
            continue
        with u.lock:
            u.seen.clear()


CTL = os.path.join(h.tmp, "local.sock")  # each local's control socket in turn
local = h.start_local("LOCAL", os.path.join(h.tmp, "db"), [default.endpoint],
                      "--stub", "stubzone.test.@" + upper_ep, "--stub",
                      "fake.test.@" + fake.endpoint, "--timeout", "6000", "-t", "1",
                      "--control", CTL)
run(local, "flags")
h.stop(local)

# The same from a configuration file; --check-config lists them under stub:.
clear()
conf = os.path.join(h.tmp, "local.conf")
with open(conf, "w") as f:
    f.write("""stub:
  - name: stubzone.test.
    upstream: [%s]
  - fake.test.@%s
forward:
  - lan.@nxdomain
""" % (upper_ep, fake.endpoint))
r = subprocess.run([hl.LOCAL_BIN, "-c", conf, "--check-config"], capture_output=True, text=True)
stub_part = r.stdout.split("stub:")[1].split("\n\n")[0] if "stub:" in r.stdout else ""
h.check(r.returncode == 0 and "stubzone.test.@" + upper_ep in stub_part and
        "lan.@nxdomain" not in stub_part and "lan.@nxdomain" in r.stdout,
        "--check-config with stub: stanzas: %s" % (r.stdout + r.stderr))
local = h.start_local("LOCAL_CONF", os.path.join(h.tmp, "db2"), [default.endpoint], "-c", conf,
                      "--timeout", "6000", "-t", "1", "--control", CTL)
run(local, "config")
# Answers are cached: with the stub zone's server gone, still answered.
h.stop(upper)
m, _ = hl.query(local, "www.stubzone.test.", timeout=4)
h.check(rrs(m, dns.rdatatype.A) == ["192.0.2.80"], "cached www.stubzone.test.: %s" % m)
m, _ = hl.query(local, "nx.stubzone.test.", timeout=4)
h.check(hl.rcode_text(m) == "NXDOMAIN", "cached nx.stubzone.test.: %s" % m)
if ROOT:
    # ... and those found by following a referral, with the child gone too
    h.stop(child)
    m, _ = hl.query(local, "www.child.stubzone.test.", timeout=4)
    h.check(rrs(m, dns.rdatatype.A) == ["192.0.2.90"], "cached www.child.stubzone.test.: %s" % m)
    m, _ = hl.query(local, "nx.child.stubzone.test.", timeout=4)
    h.check(hl.rcode_text(m) == "NXDOMAIN", "cached nx.child.stubzone.test.: %s" % m)
h.stop(local)

# Bad entries are refused with the key named.
hl.check_bad_configs(h, conf, [("stub: [{name: corp.}]\n", "needs upstream:"),
                                ("stub: [{name: corp., local: nxdomain}]\n", "no local:"),
                                ("stub: [corp.@nxdomain]\n", "NAME@ADDR[:PORT] is expected")],
                     "stub")
r = subprocess.run([hl.LOCAL_BIN, "--stub", "corp.@10.0.0.1", "--forward", "corp.@10.0.0.2",
                    "-d", os.path.join(h.tmp, "db3"), "-p", "1"],
                   capture_output=True, text=True, timeout=20)
h.check(r.returncode != 0 and "both forwarded and local or stub" in r.stderr,
        "corp. both stub and forwarded: status %d, %s" % (r.returncode, r.stderr.strip()))
h.finish()
