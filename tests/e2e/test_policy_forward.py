#!/usr/bin/python3
"""Per-domain upstreams (issue 16, Unbound forward-zone, dnsmasq
server=/d/ip): each question goes to the upstream set of the longest
forward: name above it, the rest to --upstream; a set fails over like the
default one; never-forwarded names (NAME@nxdomain, NAME@refused) and the
RFC 6303 private reverse zones are answered locally and reach no upstream,
unless a forward: entry names the reverse zone. Fake upstreams record
which of them got each question. Then the same from a configuration file
(forward: stanzas)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.rdatatype  # noqa: E402

import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_policy_forward")


def answering(addr):
    return lambda up, s: [("send", hl.a_reply(s, addr))] if s.msg else None


# Names of the default upstream that are CNAMEs into never-forwarded
# domains: the chase gets that domain's answer, never an upstream's.
CNAMES = {"to-lan.example.": "host.lan.", "to-blocked.example.": "x.blocked.",
          "to-private.example.": "4.3.168.192.in-addr.arpa."}


def default_answering(up, s):
    if s.msg is None:
        return None
    if s.qname in CNAMES:
        return [("send", hl.reply(s, answer=["%s 300 IN CNAME %s" %
                                              (s.qname_raw, CNAMES[s.qname])]))]
    return [("send", hl.a_reply(s, "192.0.2.1"))]


def ptr_answering(target):
    def handler(up, s):
        if s.msg is None:
            return None
        return [("send", hl.reply(s, answer=["%s 300 IN PTR %s" % (s.qname_raw, target)]))]
    return handler


def corp_first(up, s):
    """The first corp. upstream: silent for names starting with 'silent'."""
    if s.msg is None or s.qname.startswith("silent"):
        return None
    return [("send", hl.a_reply(s, "10.0.0.1"))]


default = hl.FakeUpstream(h, default_answering)
corp1 = hl.FakeUpstream(h, corp_first)
corp2 = hl.FakeUpstream(h, answering("10.0.0.2"))
sub = hl.FakeUpstream(h, answering("10.9.9.9"))
rev = hl.FakeUpstream(h, ptr_answering("printer.corp."))
ups = {"default": default, "corp1": corp1, "corp2": corp2, "sub": sub, "rev": rev}


def who(name):
    """Which fake upstreams saw name."""
    return sorted(k for k, u in ups.items() if u.count(name) > 0)


def run_table(local, table, label):
    for name, qtype, rcode, addrs, asked, extra in table:
        m, _ = hl.query(local, name, qtype, timeout=5)
        h.check(hl.rcode_text(m) == rcode,
                "%s: %s %s: rcode %s, want %s" % (label, name, qtype, hl.rcode_text(m), rcode))
        if addrs is not None:
            h.check(hl.answer_addrs(m, name) == addrs,
                    "%s: %s: answer %s, want %s" % (label, name, hl.answer_addrs(m, name), addrs))
        h.check(who(name) == asked, "%s: %s asked of %s, want %s" %
                (label, name, who(name), asked))
        if extra == "soa" and m is not None:
            soa = [r for r in m.authority if r.rdtype == dns.rdatatype.SOA]
            h.check(len(soa) == 1 and (m.flags & 0x0400),
                    "%s: %s: locally served zone: AA and its SOA, got %s" % (label, name, m))
        if extra == "ptr" and m is not None:
            h.check(any(r.rdtype == dns.rdatatype.PTR for r in m.answer),
                    "%s: %s: PTR from the forwarded reverse zone, got %s" % (label, name, m))


# name, qtype, rcode, addresses (None: not checked), upstreams asked, extra
TABLE = [
    ("www.example.", "A", "NOERROR", {"192.0.2.1"}, ["default"], None),
    ("www.corp.", "A", "NOERROR", {"10.0.0.1"}, ["corp1"], None),
    ("CoRp.", "A", "NOERROR", {"10.0.0.1"}, ["corp1"], None),
    # the first of the set is silent: failover to the second
    ("silent.corp.", "A", "NOERROR", {"10.0.0.2"}, ["corp1", "corp2"], None),
    # the longest match wins
    ("x.sub.corp.", "A", "NOERROR", {"10.9.9.9"}, ["sub"], None),
    ("corpx.", "A", "NOERROR", {"192.0.2.1"}, ["default"], None),
    # never forwarded
    ("host.lan.", "A", "NXDOMAIN", set(), [], None),
    ("lan.", "AAAA", "NXDOMAIN", set(), [], None),
    ("x.blocked.", "A", "REFUSED", set(), [], None),
    # RFC 6303: locally served, unless forwarded
    ("4.3.168.192.in-addr.arpa.", "PTR", "NXDOMAIN", set(), [], "soa"),
    ("2.0.0.127.in-addr.arpa.", "PTR", "NXDOMAIN", set(), [], "soa"),
    ("1.0.0.127.in-addr.arpa.", "PTR", "NOERROR", None, [], None),
    ("1.0.0.127.in-addr.arpa.", "A", "NOERROR", set(), [], "soa"),
    ("localhost.", "A", "NOERROR", {"127.0.0.1"}, [], None),
    ("www.localhost.", "AAAA", "NOERROR", {"::1"}, [], None),
    ("1.1.16.172.in-addr.arpa.", "PTR", "NXDOMAIN", set(), [], "soa"),
    ("168.192.in-addr.arpa.", "PTR", "NOERROR", set(), [], "soa"),
    ("5.4.3.10.in-addr.arpa.", "PTR", "NOERROR", None, ["rev"], "ptr"),
    ("8.8.8.8.in-addr.arpa.", "PTR", "NOERROR", None, ["default"], None),
]

local = h.start_local(
    "LOCAL", os.path.join(h.tmp, "db"), [default.endpoint],
    "--forward", "corp.@" + corp1.endpoint, "--forward", "sub.corp.@" + sub.endpoint,
    "--forward", "corp.@" + corp2.endpoint, "--forward", "lan.@nxdomain",
    "--forward", "blocked.@refused", "--forward", "10.in-addr.arpa.@" + rev.endpoint,
    "--timeout", "2000", "-t", "1")
run_table(local, TABLE, "flags")
# A second question for a corp. name is a cache hit: no upstream asked again.
m, _ = hl.query(local, "www.corp.")
h.check(corp1.count("www.corp.") == 1, "www.corp. again: asked %d times" % corp1.count("www.corp."))
# A CNAME chased into a never-forwarded domain: that domain's answer after
# the CNAME (RFC 6604: the rcode is the last name's), no upstream asked for
# the target; a refused one is REFUSED, logged as what it is.
for name, rcode, soa in (("to-lan.example.", "NXDOMAIN", False),
                         ("to-private.example.", "NXDOMAIN", True),
                         ("to-blocked.example.", "REFUSED", False),
                         ("to-blocked.example.", "REFUSED", False)):
    m, _ = hl.query(local, name, timeout=5)
    target = CNAMES[name]
    h.check(hl.rcode_text(m) == rcode, "%s: rcode %s, want %s" % (name, hl.rcode_text(m), rcode))
    if rcode != "REFUSED" and m is not None:
        h.check([r.to_text() for rr in m.answer for r in rr] == [target] and
                any(rr.rdtype == dns.rdatatype.SOA for rr in m.authority) == soa,
                "%s: CNAME %s%s, got %s" % (name, target, " and the SOA" if soa else "", m))
    h.check(who(target) == [], "%s: the target %s asked of %s" % (name, target, who(target)))
text = local.log_text()
h.check("no upstream reachable" not in text and "SERVFAIL to-" not in text,
        "a chase into a never-forwarded domain logged as a failure: %s" % text[-1500:])
h.check("REFUSED to-blocked.example. A: CNAME target in a domain never forwarded (refused)"
        in text, "the refused chase is logged as such: %s" % text[-1500:])
# Without recursion, never-forwarded names are still answered.
m, _ = hl.query(local, "other.lan.", rd=False)
h.check(hl.rcode_text(m) == "NXDOMAIN", "other.lan. RD=0: %s, want NXDOMAIN" % hl.rcode_text(m))
h.stop(local)

# The same from a configuration file.
for u in ups.values():
    with u.lock:
        u.seen.clear()
conf = os.path.join(h.tmp, "local.conf")
with open(conf, "w") as f:
    f.write("""forward:
  - name: corp.
    upstream: [%s, %s]
  - name: sub.corp.
    upstream: %s
  - name: lan.
    local: nxdomain
  - blocked.@refused
  - name: 10.in-addr.arpa.
    upstream: [%s]
""" % (corp1.endpoint, corp2.endpoint, sub.endpoint, rev.endpoint))
r = subprocess.run([hl.LOCAL_BIN, "-c", conf, "--check-config"], capture_output=True, text=True)
h.check(r.returncode == 0 and "corp.@" + corp2.endpoint in r.stdout and
        "lan.@nxdomain" in r.stdout, "--check-config with forward: stanzas: %s" %
        (r.stdout + r.stderr))
local = h.start_local("LOCAL_CONF", os.path.join(h.tmp, "db2"), [default.endpoint], "-c", conf,
                      "--timeout", "2000", "-t", "1")
run_table(local, TABLE, "config")
h.stop(local)

# Bad entries are refused with the key named.
BAD = [
    ("forward: [{name: corp.}]\n", "upstream: or local:"),
    ("forward: [{name: corp., upstream: [host.example]}]\n", "address"),
    ("forward: [{name: corp., local: maybe}]\n", "nxdomain or refused"),
    ("forward: [{name: corp., upstream: [10.0.0.1], local: nxdomain}]\n", "not both"),
    ("forward: [{upstream: [10.0.0.1]}]\n", "needs a name"),
    ("forward: [{name: corp., port: 5}]\n", "unknown key"),
    ("forward: [corp.]\n", "NAME@ADDR"),
]
hl.check_bad_configs(h, conf, BAD, "forward")
r = subprocess.run([hl.LOCAL_BIN, "--forward", "corp.@10.0.0.1", "--forward", "corp.@nxdomain",
                    "-d", os.path.join(h.tmp, "db3"), "-p", "1"],
                   capture_output=True, text=True, timeout=20)
h.check(r.returncode != 0 and "both forwarded and local" in r.stderr,
        "corp. forwarded and local at once: status %d, %s" % (r.returncode, r.stderr.strip()))
h.finish()
