#!/usr/bin/python3
"""Stub zones (issue 16, Unbound's stub-zone): --stub NAME@ADDR and stub:
stanzas send the questions for NAME and below to the zone's authoritative
servers, without recursion (RD clear), and cache their answers; the other
names still go to --upstream, and a CNAME out of the stub zone is chased
there. A tierdns-upper serves the stub zone; a fake authoritative server
shows the RD bit; a referral from a stub server is not followed (SERVFAIL,
logged with that reason)."""
import os
import subprocess
import sys

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
ns.child A 192.0.2.54
"""


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


zone = os.path.join(h.tmp, "stub.zone")
with open(zone, "w") as f:
    f.write(ZONE)
h.zone_load(os.path.join(h.tmp, "upper-db"), zone)
upper = h.start_upper("UPPER", os.path.join(h.tmp, "upper-db"), "-t", "1")
default = hl.FakeUpstream(h, default_answering)
fake = hl.FakeUpstream(h, authoritative)
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
    # A referral within the zone is not followed: SERVFAIL, a true reason.
    m, _ = hl.query(local, "x.child.stubzone.test.", timeout=4)
    h.check(hl.rcode_text(m) == "SERVFAIL", "%s: x.child.stubzone.test.: %s" % (label, m))
    h.check("x.child.stubzone.test. A: referral from a stub zone's server (not followed)"
            in local.log_text(), "%s: the referral is logged: %s" % (label, local.log_text()[-1500:]))


def clear():
    for u in (default, fake):
        with u.lock:
            u.seen.clear()


local = h.start_local("LOCAL", os.path.join(h.tmp, "db"), [default.endpoint],
                      "--stub", "stubzone.test.@" + upper_ep, "--stub",
                      "fake.test.@" + fake.endpoint, "--timeout", "2000", "-t", "1")
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
                      "--timeout", "2000", "-t", "1")
run(local, "config")
# Answers are cached: with the stub zone's server gone, still answered.
h.stop(upper)
m, _ = hl.query(local, "www.stubzone.test.", timeout=4)
h.check(rrs(m, dns.rdatatype.A) == ["192.0.2.80"], "cached www.stubzone.test.: %s" % m)
m, _ = hl.query(local, "nx.stubzone.test.", timeout=4)
h.check(hl.rcode_text(m) == "NXDOMAIN", "cached nx.stubzone.test.: %s" % m)
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
