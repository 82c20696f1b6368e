#!/usr/bin/python3
"""Local data without a whole zone (issue 16, Unbound local-data and
local-zone types) and hosts files (dnsmasq): a record overrides only its
own name and type, the rest still goes upstream; each local-zone type
answers as Unbound's does; hosts files give A, AAAA and PTR, a bad line
is logged as FILE:LINE and skipped. All of it is read again at SIGHUP (and
a hosts file when it changes) without a restart; a broken configuration
keeps the running policy. A fake upstream records what reached it."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.rdatatype  # noqa: E402

import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_policy_local")


def upstream(up, s):
    if s.msg is None:
        return None
    if s.qtype == dns.rdatatype.AAAA:
        return [("send", hl.reply(s, answer=["%s 300 IN AAAA 2001:db8::1" % s.qname_raw]))]
    return [("send", hl.a_reply(s, "192.0.2.1"))]


up = hl.FakeUpstream(h, upstream)
conf = os.path.join(h.tmp, "local.conf")
hosts = os.path.join(h.tmp, "hosts")
CONF = """local-zone:
  - ads.test. always_nxdomain
  - st.test. static
  - tr.test. transparent
  - rd.test. redirect
  - rf.test. refuse
  - dn.test. deny
  - ar.test. always_refuse
  - open.st.test. always_transparent
local-data:
  - webapp.site. 60 A 10.1.2.3
  - "x.ads.test. A 10.6.6.6"
  - "st.test. 600 SOA ns.st.test. admin.st.test. 1 3600 600 86400 300"
  - 'a.st.test. TXT "local text"'
  - a.tr.test. A 10.2.2.2
  - rd.test. A 10.3.3.3
  - ok.rf.test. A 10.4.4.4
  - alias.test. CNAME webapp.site.
  - mail.test. MX 10 mx.mail.test.
hosts: %s
""" % hosts
with open(conf, "w") as f:
    f.write(CONF)
with open(hosts, "w") as f:
    f.write("""# a comment
127.0.0.1 localhost
192.168.1.10 nas nas.home.arpa  # the NAS
fd00::10 nas
not-an-address foo
10.0.0.5 bad..name
192.168.1.10 other-name-same-address
0.0.0.0 blocked.example
""")

local = h.start_local("LOCAL", os.path.join(h.tmp, "db"), [up.endpoint], "-c", conf,
                      "-t", "1", "--timeout", "2000")


def rrs(m, rdtype):
    if m is None:
        return []
    return [r.to_text() for rrset in m.answer if rrset.rdtype == rdtype for r in rrset]


def auth_soa(m):
    return m is not None and any(r.rdtype == dns.rdatatype.SOA for r in m.authority)


# name, type, rcode, check(m) or None, asked upstream?
TABLE = [
    # a record overrides its own name and type only
    ("webapp.site.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["10.1.2.3"], False),
    ("WebApp.Site.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["10.1.2.3"], False),
    ("webapp.site.", "AAAA", "NOERROR",
     lambda m: rrs(m, dns.rdatatype.AAAA) == ["2001:db8::1"], True),
    ("www.webapp.site.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["192.0.2.1"], True),
    ("alias.test.", "A", "NOERROR",
     lambda m: rrs(m, dns.rdatatype.CNAME) == ["webapp.site."], False),
    ("mail.test.", "MX", "NOERROR", lambda m: rrs(m, dns.rdatatype.MX) == ["10 mx.mail.test."],
     False),
    # always_nxdomain: records or not
    ("ads.test.", "A", "NXDOMAIN", None, False),
    ("x.ads.test.", "A", "NXDOMAIN", None, False),
    # static: records, else NODATA / NXDOMAIN with the zone's SOA
    ("a.st.test.", "TXT", "NOERROR", lambda m: rrs(m, dns.rdatatype.TXT) == ['"local text"'],
     False),
    ("a.st.test.", "A", "NOERROR", lambda m: not m.answer and auth_soa(m), False),
    ("b.st.test.", "A", "NXDOMAIN", lambda m: auth_soa(m) and (m.flags & 0x0400), False),
    ("x.open.st.test.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["192.0.2.1"], True),
    # transparent: a name with records is NODATA for other types
    ("a.tr.test.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["10.2.2.2"], False),
    ("a.tr.test.", "AAAA", "NOERROR", lambda m: not m.answer, False),
    ("b.tr.test.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["192.0.2.1"], True),
    # redirect: the zone name's records for every name below
    ("deep.x.rd.test.", "A", "NOERROR",
     lambda m: rrs(m, dns.rdatatype.A) == ["10.3.3.3"] and
     m.answer[0].name.to_text() == "deep.x.rd.test.", False),
    ("rd.test.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["10.3.3.3"], False),
    # refuse: records, else REFUSED
    ("ok.rf.test.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["10.4.4.4"], False),
    ("no.rf.test.", "A", "REFUSED", None, False),
    ("ar.test.", "A", "REFUSED", None, False),
    # deny: no reply at all
    ("x.dn.test.", "A", "NONE", None, False),
    # hosts
    ("nas.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["192.168.1.10"], False),
    ("nas.home.arpa.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["192.168.1.10"],
     False),
    ("nas.", "AAAA", "NOERROR", lambda m: rrs(m, dns.rdatatype.AAAA) == ["fd00::10"], False),
    ("10.1.168.192.in-addr.arpa.", "PTR", "NOERROR",
     lambda m: rrs(m, dns.rdatatype.PTR) == ["nas."], False),
    ("0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "PTR",
     "NOERROR", lambda m: rrs(m, dns.rdatatype.PTR) == ["nas."], False),
    ("1.0.0.127.in-addr.arpa.", "PTR", "NOERROR",
     lambda m: rrs(m, dns.rdatatype.PTR) == ["localhost."], False),
    ("blocked.example.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["0.0.0.0"], False),
    ("0.0.0.0.in-addr.arpa.", "PTR", "NXDOMAIN", None, False),
    ("foo.", "A", "NOERROR", lambda m: rrs(m, dns.rdatatype.A) == ["192.0.2.1"], True),
    # ANY at a name with local records: answered from them, one RRset over
    # UDP (RFC 8482 4.1: the first in type order); no local records: upstream
    ("mail.test.", "ANY", "NOERROR", lambda m: rrs(m, dns.rdatatype.MX) == ["10 mx.mail.test."],
     False),
    ("nas.", "ANY", "NOERROR", lambda m: len(m.answer) == 1 and
     rrs(m, dns.rdatatype.A) == ["192.168.1.10"], False),
    ("b.st.test.", "ANY", "NXDOMAIN", lambda m: auth_soa(m), False),
    ("any.example.", "ANY", "NOERROR", None, True),
]


def run(table, label):
    for name, qtype, rcode, check, asked in table:
        before = up.count(name)
        m, _ = hl.query(local, name, qtype, timeout=1.5 if rcode == "NONE" else 4)
        h.check(hl.rcode_text(m) == rcode, "%s: %s %s: rcode %s, want %s" %
                (label, name, qtype, hl.rcode_text(m), rcode))
        if check is not None and m is not None:
            h.check(check(m), "%s: %s %s: unexpected answer\n%s" % (label, name, qtype, m))
        h.check((up.count(name) > before) == asked, "%s: %s %s: upstream asked %d times, "
                "want %s" % (label, name, qtype, up.count(name) - before,
                             "some" if asked else "none"))
        if m is not None and rcode != "REFUSED" and not asked and m.answer:
            h.check(m.flags & 0x0400, "%s: %s: local data without AA" % (label, name))


run(TABLE, "start")
# ANY over TCP: every RRset of the name's local data.
m, _ = hl.query(local, "nas.", "ANY", tcp=True)
h.check(m is not None and rrs(m, dns.rdatatype.A) == ["192.168.1.10"] and
        rrs(m, dns.rdatatype.AAAA) == ["fd00::10"] and (m.flags & 0x0400),
        "nas. ANY over TCP: A and AAAA with AA, got %s" % m)
h.check(up.count("nas.") == 0, "nas. ANY over TCP asked upstream")
text = local.log_text()
h.check("hosts:5: not an IPv4 or IPv6 address, line skipped" in text and
        "hosts:6: not a host name, line skipped" in text,
        "bad hosts lines are reported as FILE:LINE: %s" % text)
h.check("0.0.0.0.in-addr" not in text, "no PTR for 0.0.0.0")

# A hosts file that changes is read again by itself.
with open(hosts, "a") as f:
    f.write("192.168.1.20 printer\n")
deadline = time.time() + 8
m = None
while time.time() < deadline:
    m, _ = hl.query(local, "printer.", "A")
    if rrs(m, dns.rdatatype.A) == ["192.168.1.20"]:
        break
    time.sleep(0.3)
h.check(rrs(m, dns.rdatatype.A) == ["192.168.1.20"],
        "printer. after the hosts file changed: %s" % m)
h.check("a hosts or RPZ file changed" in local.log_text(), "the hosts reload is logged")

# SIGHUP: a changed local-data applies without a restart.
with open(conf, "w") as f:
    f.write(CONF.replace("webapp.site. 60 A 10.1.2.3", "webapp.site. 60 A 10.9.8.7"))
os.kill(local.pid, signal.SIGHUP)
deadline = time.time() + 8
while time.time() < deadline:
    m, _ = hl.query(local, "webapp.site.", "A")
    if rrs(m, dns.rdatatype.A) == ["10.9.8.7"]:
        break
    time.sleep(0.2)
h.check(rrs(m, dns.rdatatype.A) == ["10.9.8.7"], "webapp.site. after SIGHUP: %s" % m)
h.check("kept until a restart: local-data" not in local.log_text(),
        "local-data is applied, not kept until a restart")

# A broken entry at a reload: logged, the running policy stays.
with open(conf, "w") as f:
    f.write(CONF.replace("webapp.site. 60 A 10.1.2.3", "webapp.site. 60 A not-an-address"))
os.kill(local.pid, signal.SIGHUP)
deadline = time.time() + 8
while time.time() < deadline and "the running policy stays" not in local.log_text():
    time.sleep(0.2)
h.check("the running policy stays" in local.log_text(),
        "a bad local-data at reload is logged: %s" % local.log_text()[-2000:])
m, _ = hl.query(local, "webapp.site.", "A")
h.check(rrs(m, dns.rdatatype.A) == ["10.9.8.7"], "webapp.site. after a bad reload: %s" % m)
m, _ = hl.query(local, "x.ads.test.", "A")
h.check(hl.rcode_text(m) == "NXDOMAIN", "x.ads.test. after a bad reload: %s" % m)
h.stop(local)

# At start, a bad entry stops the daemon with the entry named.
for key, value, want in (("local-data", "'webapp.site. A 1.2.3'", "local-data 'webapp.site. A 1.2.3'"),
                         ("local-data", "'x. CH TXT a'", "class IN only"),
                         ("local-zone", "'x. sometimes'", "unknown type 'sometimes'"),
                         ("local-zone", "'x.'", "NAME TYPE")):
    with open(conf, "w") as f:
        f.write("%s: [%s]\n" % (key, value))
    r = subprocess.run([hl.LOCAL_BIN, "-c", conf, "-d", os.path.join(h.tmp, "db2"), "-l",
                        hl.rand_addr(), "-p", str(hl.rand_port()), "--control", "none"],
                       capture_output=True, text=True, timeout=20)
    h.check(r.returncode != 0 and want in r.stderr, "bad %s %s: status %d, %s" %
            (key, value, r.returncode, r.stderr.strip()[-400:]))
h.finish()
