#!/usr/bin/python3
"""DNSSEC validation in tierdns-local (issue 12), end to end.

tierdns-upper serves the shipped zones signed by tools/seed_signed.sh (the
root "." and site., with site.'s DS in the root), plus an unsigned child
plain.site. that site. delegates without a DS (an insecure delegation: site.
is signed again here with the delegation). tierdns-local validates with the
root's DS as its trust anchor (--trust-anchor), directly against the upper
and through a tampering proxy (a FakeUpstream that asks the upper and
alters the reply). Checked:
  - secure answers (positive, CNAME chain, NXDOMAIN, NODATA) have AD for a
    DO or AD query, not otherwise; RRSIGs only with DO (RFC 4035 3.2);
  - the upstream queries carry DO, and CD when the client set CD;
  - below the insecure delegation: data without AD, also at the end of a
    signed CNAME chased into it; --insecure-domain site.
    serves site. without AD;
  - a wildcard answer is secure with its NSEC proof, which DO clients get;
  - tampering: a flipped RRSIG byte, an altered A record, stripped RRSIGs,
    an RRSIG whose validity ended, a wildcard answer stripped of the NSEC
    proving the name absent, a DS that matches no key -> SERVFAIL with the
    EDE of RFC 8914 (6, 6, 10, 7, 12, 9), logged; CD=1 gets the data without
    AD; a bogus answer is not cached as good (asked again, still SERVFAIL);
  - a secure answer's TTL is cut to what its signature has left, and to the
    signature's Original TTL when the TTLs were raised on the way;
  - a DNSKEY or DS that cannot be fetched: SERVFAIL with EDE 9, the failed
    fetch logged, the data for CD=1;
  - a CD=1 miss does not join a CD=0 upstream query for the same question,
    nor the other way round (CD is part of the coalescing key);
  - --aggressive-nsec: NXDOMAIN synthesized from a cached validated NSEC
    answer without asking upstream (RFC 8198), not for CD=1;
  - the status is kept with the cached entry across a restart (AD from the
    cache with the upstream gone);
  - tierdns-control stats counts each verdict once per validated answer
    (dnssec.secure, .insecure, .bogus) and each bogus SERVFAIL, from the
    upstream or from the cache, as servfail.bogus.
"""
import glob
import os
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.rdata  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

h = hl.Harness("test_dnssec_validate")
if subprocess.run(["sh", "-c", "command -v ldns-keygen"], capture_output=True).returncode:
    h.log("FAIL: ldns-keygen is not installed (tools/deps.sh)")
    sys.exit(1)
EDE = 15
var = os.path.join(h.tmp, "var")
r = subprocess.run([os.path.join(hl.SRC, "tools", "seed_signed.sh"), hl.BUILD, var],
                   capture_output=True, text=True)
if r.returncode != 0:
    h.log("FAIL: seed_signed.sh: %s" % (r.stdout + r.stderr))
    sys.exit(1)
upper_db = os.path.join(var, "upper")


def key_of(zone, ksk):
    """The base name of the zone's KSK or ZSK that seed_signed.sh made."""
    for f in glob.glob(os.path.join(var, "keys", "K%s+013+*.key" % zone)):
        with open(f) as fh:
            is_ksk = " 257 " in fh.read().replace("\t", " ")
        if is_ksk == ksk:
            return f[:-4]
    h.log("FAIL: no %s key for %s" % ("KSK" if ksk else "ZSK", zone))
    sys.exit(1)


# site. again with an unsigned delegation to plain.site. (no DS), signed
# with the same keys (the root's DS for site. still holds); plain.site.
# itself unsigned.
site = os.path.join(h.tmp, "site.zone")
with open(os.path.join(hl.ZONES, "upper", "site.zone")) as f, open(site, "w") as out:
    out.write(f.read() + "\nplain.site. 300 IN NS ns1.site.\n"
              "toplain.site. 300 IN CNAME www.plain.site.\n"
              "*.wild.site. 300 IN A 192.0.2.88\n")
plain = os.path.join(h.tmp, "plain.zone")
with open(plain, "w") as out:
    out.write("$ORIGIN plain.site.\n$TTL 300\n"
              "@ IN SOA ns1.site. hostmaster.site. 1 3600 900 604800 300\n"
              "@ IN NS ns1.site.\nwww IN A 192.0.2.77\n")
# (--force: the shipped site. is stored signed, with a higher serial.)
for args in (("load", "--force", site), ("sign", "site.", key_of("site.", True), key_of("site.", False)),
             ("load", plain)):
    r = h.zone(upper_db, *args)
    if r.returncode != 0:
        h.log("FAIL: tierdns-zone %s: %s" % (args, r.stdout + r.stderr))
        sys.exit(1)
anchor = os.path.join(var, "root.ds")
up = h.start_upper("UPPER", upper_db)
upper_ep = "%s:%d" % (up.addr, up.port)


def ask(d, name, rdtype="A", do=False, ad=False, cd=False, timeout=3.0):
    q = dns.message.make_query(name, rdtype, want_dnssec=do, use_edns=0)
    q.flags = dns.flags.RD | (dns.flags.AD if ad else 0) | (dns.flags.CD if cd else 0)
    raw = hl.udp_exchange(d.addr, d.port, q.to_wire(), timeout)
    if raw is None:
        raw = hl.tcp_exchange(d.addr, d.port, q.to_wire(), timeout)
    return dns.message.from_wire(raw) if raw is not None else None


def ede(m):
    for o in (m.options if m is not None else []):
        if o.otype == EDE:
            return struct.unpack("!H", o.to_wire()[:2])[0]
    return None


def has(m, section, rdtype):
    return m is not None and any(s.rdtype == rdtype for s in getattr(m, section))


def describe(m):
    if m is None:
        return "no answer"
    return "%s flags %s EDE %s\n%s" % (hl.rcode_text(m), dns.flags.to_text(m.flags), ede(m), m)


def verdicts(sock):
    """The verdict and bogus SERVFAIL counters of tierdns-control stats."""
    st = hl.control_stats(sock)
    return tuple(st.get(k) for k in ("dnssec.secure", "dnssec.insecure", "dnssec.bogus",
                                     "servfail.bogus"))


def delta(a, b):
    return tuple(y - x for x, y in zip(a, b))


def expect(label, m, rcode, ad, code=None):
    ok = (hl.rcode_text(m) == rcode and bool(m.flags & dns.flags.AD) == ad and
          (code is None or ede(m) == code))
    h.check(ok, "%s: expected %s%s%s, got %s" % (label, rcode, " AD" if ad else " no AD",
                                                 "" if code is None else " EDE %d" % code,
                                                 describe(m)))


# ---- straight to the upper ----
sock = os.path.join(h.tmp, "local.sock")
d = h.start_local("LOCAL", os.path.join(h.tmp, "local"), [upper_ep], "--trust-anchor", anchor,
                  "--control", sock)
m = ask(d, "webapp.site.", do=True)
expect("webapp.site A, DO", m, "NOERROR", True)
h.check(has(m, "answer", dns.rdatatype.RRSIG), "webapp.site A, DO: no RRSIG: %s" % describe(m))
h.check("192.0.2.10" in hl.answer_addrs(m), "webapp.site A: no address: %s" % describe(m))
m = ask(d, "webapp.site.")
expect("webapp.site A, no DO, no AD (from the cache)", m, "NOERROR", False)
h.check(not has(m, "answer", dns.rdatatype.RRSIG), "an RRSIG without DO: %s" % describe(m))
expect("webapp.site A, AD without DO (RFC 6840 5.7)", ask(d, "webapp.site.", ad=True), "NOERROR", True)
m = ask(d, "docs.site.", do=True)
expect("docs.site A (CNAME chain), DO", m, "NOERROR", True)
h.check("192.0.2.10" in hl.answer_addrs(m), "docs.site: chain not followed: %s" % describe(m))
m = ask(d, "nosuch.site.", do=True)
expect("nosuch.site A (NXDOMAIN), DO", m, "NXDOMAIN", True)
h.check(has(m, "authority", dns.rdatatype.NSEC), "NXDOMAIN without NSEC for DO: %s" % describe(m))
m = ask(d, "nosuch.site.")
h.check(not has(m, "authority", dns.rdatatype.NSEC), "NSEC without DO: %s" % describe(m))
expect("webapp.site TXT (NODATA), DO", ask(d, "webapp.site.", "TXT", do=True), "NOERROR", True)
expect("www.example A (root NXDOMAIN), DO", ask(d, "www.example.", do=True), "NXDOMAIN", True)
expect("site DS, DO", ask(d, "site.", "DS", do=True), "NOERROR", True)
m = ask(d, "www.plain.site.", do=True)
expect("www.plain.site A (unsigned delegation), DO", m, "NOERROR", False)
h.check("192.0.2.77" in hl.answer_addrs(m), "www.plain.site: no data: %s" % describe(m))
v0 = verdicts(sock)
h.check(v0[0] > 0 and v0[2] == 0 and v0[3] == 0, "stats: secure verdicts, none bogus: %s" % (v0,))
expect("nosuch.plain.site A (insecure NXDOMAIN)", ask(d, "nosuch.plain.site.", do=True),
       "NXDOMAIN", False)
v1 = verdicts(sock)
h.check(delta(v0, v1) == (0, 1, 0, 0), "stats: one insecure verdict: %s" % (delta(v0, v1),))
expect("ns2.site A (a fresh secure name)", ask(d, "ns2.site.", do=True), "NOERROR", True)
v2 = verdicts(sock)
h.check(delta(v1, v2) == (1, 0, 0, 0), "stats: one secure verdict: %s" % (delta(v1, v2),))
m = ask(d, "toplain.site.", do=True)
expect("toplain.site A (signed CNAME into the insecure child)", m, "NOERROR", False)
h.check("192.0.2.77" in hl.answer_addrs(m), "toplain.site: no address: %s" % describe(m))
# A wildcard answer is secure with its NSEC proof (RFC 4035 5.3.4), which
# a DO client is given too (3.1.3.3), from the cache as well.
for label in ("x.wild.site A, wildcard expansion", "x.wild.site A again, from the cache"):
    m = ask(d, "x.wild.site.", do=True)
    expect(label, m, "NOERROR", True)
    h.check("192.0.2.88" in hl.answer_addrs(m) and has(m, "authority", dns.rdatatype.NSEC),
            "%s: no address or no NSEC proof: %s" % (label, describe(m)))
h.stop(d)

# The status survives a restart: with the upstream gone, the cache alone
# answers with AD.
d = h.start_local("LOCAL2", os.path.join(h.tmp, "local"), [hl.dead_endpoint()],
                  "--trust-anchor", anchor, "--timeout", "500")
expect("webapp.site A after a restart, from the cache", ask(d, "webapp.site.", do=True),
       "NOERROR", True)
h.stop(d)

# --insecure-domain: validation off at and below it.
d = h.start_local("LOCAL3", os.path.join(h.tmp, "local3"), [upper_ep], "--trust-anchor", anchor,
                  "--insecure-domain", "site")
expect("webapp.site A under --insecure-domain site", ask(d, "webapp.site.", do=True), "NOERROR",
       False)
expect("www.example A, not under it", ask(d, "www.example.", do=True), "NXDOMAIN", True)
h.stop(d)

# ---- through a tampering proxy ----
TAMPER = {}  # qname -> how to alter the reply


def alter(raw, how):
    m = dns.message.from_wire(raw)
    if how == "noproof":
        # the wildcard's proof that the name does not exist, taken out
        for rrset in list(m.authority):
            if dns.rdatatype.NSEC in (rrset.rdtype, rrset.covers):
                m.authority.remove(rrset)
        return m.to_wire()
    if how == "ttl":
        # TTLs raised on the way: the RRSIG's Original TTL still says 300
        for rrset in m.answer:
            rrset.ttl = 86400
        return m.to_wire()
    if how == "cut":
        # an upstream that stops at the edge of its data: the CNAME only
        for rrset in list(m.answer):
            if rrset.name != m.question[0].name:
                m.answer.remove(rrset)
        return m.to_wire()
    for sec in (m.answer, m.authority):
        for i, rrset in enumerate(list(sec)):
            if how == "strip" and rrset.rdtype == dns.rdatatype.RRSIG:
                sec.remove(rrset)
                continue
            new = []
            for rd in rrset:
                if how == "flip" and rrset.rdtype == dns.rdatatype.RRSIG:
                    sig = bytearray(rd.signature)
                    sig[len(sig) // 2] ^= 0x01
                    rd = rd.replace(signature=bytes(sig))
                elif how == "alter" and rrset.rdtype == dns.rdatatype.A:
                    rd = rd.replace(address="192.0.2.66")
                elif how == "expired" and rrset.rdtype == dns.rdatatype.RRSIG:
                    rd = EXPIRED_SIG
                elif how == "soon" and rrset.rdtype == dns.rdatatype.RRSIG:
                    rd = SOON_SIG
                elif how == "ds" and rrset.rdtype == dns.rdatatype.DS:
                    digest = bytearray(rd.digest)
                    digest[0] ^= 0xff
                    rd = rd.replace(digest=bytes(digest))
                new.append(rd)
            if new:
                rrset.clear()
                for rd in new:
                    rrset.add(rd)
    return m.to_wire()


def proxy(up_, s):
    if s.msg is None:
        return None
    raw = hl.udp_exchange(up.addr, up.port, s.raw, 2.0)
    if raw is None:
        return None
    how = TAMPER.get(s.qname)
    # The attack is on the answer asked for (A), or on the DS or DNSKEY.
    if s.qtype != {"ds": dns.rdatatype.DS, "dsfail": dns.rdatatype.DS,
                   "keyfail": dns.rdatatype.DNSKEY}.get(how, dns.rdatatype.A):
        how = None
    if how in ("keyfail", "dsfail"):
        # an upstream that cannot get the zone's DNSKEY or DS
        fail = dns.message.make_response(s.msg)
        fail.set_rcode(dns.rcode.SERVFAIL)
        return [("send", fail.to_wire())]
    if how == "validating":
        # a slow validating upstream in front of altered data: the data
        # for CD=1, SERVFAIL otherwise
        if s.msg.flags & dns.flags.CD:
            return [("sleep", 0.5), ("send", alter(raw, "alter"))]
        fail = dns.message.make_response(s.msg)
        fail.set_rcode(dns.rcode.SERVFAIL)
        return [("sleep", 0.5), ("send", fail.to_wire())]
    return [("send", alter(raw, how) if how else raw)]


def days_ago(n):
    return time.strftime("%Y%m%d", time.gmtime(time.time() - n * 86400))


def real_sig(owner, inception, expiration, label):
    """A real signature of owner's A RRset by site.'s ZSK (ldns-signzone)
    valid from inception to expiration (its -i/-e dates)."""
    out = os.path.join(h.tmp, "site." + label)
    r = subprocess.run(["ldns-signzone", "-f", out, "-i", inception, "-e", expiration, site,
                        key_of("site.", False)], capture_output=True, text=True)
    for line in open(out) if r.returncode == 0 else []:
        f = line.split()
        if len(f) > 5 and f[0] == owner and f[3] == "RRSIG" and f[4] == "A":
            return dns.rdata.from_text("IN", "RRSIG", " ".join(f[4:]))
    h.log("FAIL: ldns-signzone made no %s signature: %s" % (label, r.stdout + r.stderr))
    sys.exit(1)


# ns1.site. A signed with a validity that ended ten days ago (a replayed
# old answer); mail-backup.site. A signed to expire 100 s from now.
EXPIRED_SIG = real_sig("ns1.site.", days_ago(40), days_ago(10), "old")
SOON_SIG = real_sig("mail-backup.site.", days_ago(1),
                    time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 100)), "soon")
fake = hl.FakeUpstream(h, proxy)
TAMPER.update({"webapp.site.": "flip", "api.site.": "alter", "mail.site.": "strip",
               "ns1.site.": "expired", "www.site.": "cut", "y.wild.site.": "noproof",
               "mail-backup.site.": "soon", "t.wild.site.": "ttl"})
d = h.start_local("LOCAL4", os.path.join(h.tmp, "local4"), [fake.endpoint],
                  "--trust-anchor", anchor, "--control", sock)
expect("untampered ns2.site A through the proxy", ask(d, "ns2.site.", do=True), "NOERROR", True)


def a_ttl(m):
    return max([rrset.ttl for rrset in m.answer if rrset.rdtype == dns.rdatatype.A] or [-1])


# RFC 4035 5.3.3: a secure answer is kept no longer than the signature it
# was validated with lasts, nor than that signature's Original TTL.
for name, label, bound in (("mail-backup.site.", "signature expiring in 100 s", 100),
                           ("t.wild.site.", "TTLs raised to 86400 on the way", 300)):
    for when in ("", ", from the cache"):
        m = ask(d, name, do=True)
        expect("%s (%s)%s" % (name, label, when), m, "NOERROR", True)
        h.check(m is not None and 0 < a_ttl(m) <= bound,
                "%s (%s)%s: A TTL %s, want 1..%d: %s" % (name, label, when, a_ttl(m) if m else None,
                                                         bound, describe(m)))
h.check(len(fake.queries("mail-backup.site.")) == 1,
        "mail-backup.site. asked upstream again while cached")
for name, label, code in (("webapp.site.", "a flipped RRSIG byte", 6),
                          ("api.site.", "an altered A record", 6),
                          ("mail.site.", "stripped RRSIGs", 10),
                          ("ns1.site.", "an expired RRSIG", 7),
                          ("y.wild.site.", "a wildcard answer without its NSEC", 12)):
    v0 = verdicts(sock)
    expect("%s (%s)" % (name, label), ask(d, name, do=True), "SERVFAIL", False, code)
    n_before = len(fake.queries(name))
    m = ask(d, name, cd=True, do=True)
    expect("%s (%s) with CD" % (name, label), m, "NOERROR", False)
    h.check(m is not None and len(m.answer) > 0, "%s with CD: no data: %s" % (name, describe(m)))
    h.check(len(fake.queries(name)) == n_before,
            "%s with CD: asked upstream again instead of the cached bogus entry" % name)
    expect("%s (%s), asked again: not cached as good" % (name, label), ask(d, name),
           "SERVFAIL", False)
    v1 = verdicts(sock)
    # With its RRSIGs stripped, the validator asks for the name's DS (an
    # unsigned delegation would explain them): that denial is secure.
    ds = sum(s.qtype == dns.rdatatype.DS for s in fake.queries(name))
    h.check(delta(v0, v1) == (ds, 0, 1, 2),
            "%s: stats count one bogus verdict, %d secure (its DS) and two bogus SERVFAILs "
            "(the CD=1 answer is none): %s" % (name, ds, delta(v0, v1)))
cd_seen = [s for s in fake.queries("webapp.site.") if s.msg.flags & dns.flags.CD]
h.check(all(s.msg.ednsflags & dns.flags.DO for s in fake.queries()),
        "an upstream query without DO")
h.check(not cd_seen, "CD sent upstream for a client without CD")
expect("CD=1 client, fresh name docs.site", ask(d, "docs.site.", cd=True), "NOERROR", False)
h.check(any(s.msg.flags & dns.flags.CD for s in fake.queries("docs.site.")),
        "a CD=1 client's miss went upstream without CD")
h.check("DNSSEC bogus" in d.log_text(), "no bogus reason in the log:\n%s" % d.log_text())
# The CNAME alone from upstream, chased by the local to the tampered
# webapp.site: the chain is bogus.
expect("www.site A (CNAME only, chased to the tampered webapp.site)",
       ask(d, "www.site.", do=True), "SERVFAIL", False, 6)
h.stop(d)

# An upstream that gives the CNAME only: the local chases the target
# itself, and the chain keeps its RRSIG: secure.
TAMPER.clear()
TAMPER["www.site."] = "cut"
d = h.start_local("LOCAL6", os.path.join(h.tmp, "local6"), [fake.endpoint],
                  "--trust-anchor", anchor)
m = ask(d, "www.site.", do=True)
expect("www.site A, CNAME only from upstream, target chased", m, "NOERROR", True)
h.check("192.0.2.10" in hl.answer_addrs(m) and
        any(s.qtype == dns.rdatatype.A for s in fake.queries("webapp.site.")),
        "www.site: target not chased: %s" % describe(m))
h.stop(d)

TAMPER.clear()
TAMPER["site."] = "ds"
d = h.start_local("LOCAL5", os.path.join(h.tmp, "local5"), [fake.endpoint],
                  "--trust-anchor", anchor)
expect("webapp.site A under a DS that matches no key", ask(d, "webapp.site.", do=True),
       "SERVFAIL", False, 9)
h.stop(d)

# A DNSKEY or DS the validator cannot fetch makes the answer bogus with a
# DNSSEC EDE (9 DNSKEY Missing, as Unbound's "No DNSKEY record"), the
# failed fetch named in the log; CD=1 clients still get the data.
for how, rdtype, label in (("keyfail", "DNSKEY", "LOCAL8"), ("dsfail", "DS", "LOCAL9")):
    TAMPER.clear()
    TAMPER["site."] = how
    d = h.start_local(label, os.path.join(h.tmp, label.lower()), [fake.endpoint],
                      "--trust-anchor", anchor)
    expect("webapp.site A, the upstream failing site. %s" % rdtype,
           ask(d, "webapp.site.", do=True), "SERVFAIL", False, 9)
    m = ask(d, "webapp.site.", do=True, cd=True)
    expect("webapp.site A with CD, site. %s failing" % rdtype, m, "NOERROR", False)
    h.check("192.0.2.10" in hl.answer_addrs(m), "webapp.site with CD, site. %s failing: "
            "no data: %s" % (rdtype, describe(m)))
    h.check("failed to fetch site. %s" % rdtype in d.log_text(),
            "the failed %s fetch is not in the log:\n%s" % (rdtype, d.log_text()))
    h.stop(d)

# CD is part of the coalescing key: a CD=1 miss while a CD=0 query for the
# same question is upstream (and the other way round) goes upstream on its
# own. Behind a validating upstream that SERVFAILs altered data unless CD
# is set, the CD=1 client gets the data either way.
TAMPER.clear()
TAMPER.update({"api.site.": "validating", "webapp.site.": "validating"})
fake7 = hl.FakeUpstream(h, proxy)
# One worker thread: each thread coalesces its own clients' misses.
d = h.start_local("LOCAL7", os.path.join(h.tmp, "local7"), [fake7.endpoint],
                  "--trust-anchor", anchor, "--threads", "1")
for name, first_cd in (("api.site.", False), ("webapp.site.", True)):
    got = {}

    def client(cd, name=name):
        got[cd] = ask(d, name, cd=cd, do=True)

    ts = [threading.Thread(target=client, args=(first_cd,)),
          threading.Thread(target=client, args=(not first_cd,))]
    ts[0].start()
    time.sleep(0.15)
    ts[1].start()
    for t in ts:
        t.join()
    order = "CD=%d first" % first_cd
    flags = sorted({bool(s.msg.flags & dns.flags.CD) for s in fake7.queries(name)})
    h.check(flags == [False, True],
            "%s (%s): the second client joined the first's upstream query (CD seen: %s)"
            % (name, order, flags))
    m = got.get(True)
    expect("%s CD=1 (%s)" % (name, order), m, "NOERROR", False)
    h.check("192.0.2.66" in hl.answer_addrs(m), "%s CD=1 (%s): no data: %s"
            % (name, order, describe(m)))
    expect("%s CD=0 (%s)" % (name, order), got.get(False), "SERVFAIL", False)
h.stop(d)

# --aggressive-nsec (RFC 8198): after the secure NXDOMAIN for nosuch.site.
# (NSEC mail-backup.site. -> ns1.site., and site. -> _dmarc.site. over the
# wildcard *.site.), other names in that span are NXDOMAIN without asking
# upstream; a name outside it, and a CD=1 query, still go upstream. Off by
# default (LOCAL7 asked nothing it could have synthesized).
TAMPER.clear()
fake8 = hl.FakeUpstream(h, proxy)
d = h.start_local("LOCAL10", os.path.join(h.tmp, "local10"), [fake8.endpoint],
                  "--trust-anchor", anchor, "--threads", "1", "--aggressive-nsec")
expect("nosuch.site A, the first NXDOMAIN", ask(d, "nosuch.site.", do=True), "NXDOMAIN", True)
for name in ("nosuch2.site.", "n.site."):
    m = ask(d, name, do=True)
    expect("%s A, synthesized from the cached NSEC" % name, m, "NXDOMAIN", True)
    h.check(has(m, "authority", dns.rdatatype.NSEC), "%s: no NSEC proof: %s" % (name, describe(m)))
    h.check(fake8.count(name) == 0, "%s: asked upstream (%d queries)" % (name, fake8.count(name)))
expect("nosuch3.site A with CD", ask(d, "nosuch3.site.", cd=True), "NXDOMAIN", False)
h.check(fake8.count("nosuch3.site.") == 1, "nosuch3.site with CD: not asked upstream")
expect("zzz.site A, outside the cached spans", ask(d, "zzz.site.", do=True), "NXDOMAIN", True)
h.check(fake8.count("zzz.site.") == 1, "zzz.site: not asked upstream")
h.stop(d)

# A trust anchor file that is not one stops the start (exit 1), loudly.
bad = os.path.join(h.tmp, "bad.anchor")
with open(bad, "w") as f:
    f.write(". 3600 IN A 192.0.2.1\n")
for path, what in ((bad, "a DS or DNSKEY"), (os.path.join(h.tmp, "none"), "No such file")):
    r = subprocess.run([hl.LOCAL_BIN, "--db", os.path.join(h.tmp, "l6"), "--port", "1",
                        "--trust-anchor", path, "--control", "none"],
                       capture_output=True, text=True, timeout=20)
    h.check(r.returncode == 1 and what in r.stderr,
            "--trust-anchor %s: expected exit 1 naming the problem, got %d: %s" %
            (path, r.returncode, r.stderr))
h.stop(up)
h.finish()
