#!/usr/bin/python3
"""Resolver policy differential (issue 16): Unbound and tierdns-local with
the same forward-zones, stub-zones, local-zone/local-data and response
policy zone, each forwarding "." to one tierdns-upper (the zones of
tests/interop/zones), "corp." to a second one, and asking a third one as
the authoritative server of the stub zone "lab.", which delegates
"eng.lab." to a fourth one (with glue: port 53 on a random loopback
address, so that part needs root): both follow that referral. Every query
of the table goes to both;
compared: rcode, AA, and the answer and authority sections as sets of
(owner, type, rdata), TTLs left out (the two caches fetch at their own
moments; the policy TTLs are the configuration's in both).

A difference is a failure unless DELIBERATE explains it (each with its
reason). At the end: the number compared, identical, deliberate,
unexplained.

Run: TDNS_BUILD=build tests/interop/test_policy_diff.py [-v]
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

import interop_common as ic  # noqa: E402

VERBOSE = "-v" in sys.argv

CORP_ZONE = """$ORIGIN corp.
$TTL 300
@    IN SOA ns1 hostmaster 1 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   10.1.1.53
www  IN A   10.1.1.10
www  IN AAAA 2001:db8:c::10
"""

LAB_ZONE = """$ORIGIN lab.
$TTL 300
@    IN SOA ns1 hostmaster 1 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   10.2.2.53
www  IN A   10.2.2.10
www  IN TXT "lab"
out  IN CNAME www.interop.
"""

# The delegated child of the stub zone, served on port 53 (glue has no port).
ENG = os.geteuid() == 0
ENG_ADDR = "127.%d.%d.%d" % (random.randint(1, 254), random.randint(1, 254),
                             random.randint(1, 254))
LAB_DELEGATION = """eng  IN NS  ns.eng
ns.eng IN A %s
""" % ENG_ADDR
ENG_ZONE = """$ORIGIN eng.lab.
$TTL 300
@    IN SOA ns hostmaster 1 3600 600 86400 300
@    IN NS  ns
ns   IN A   %s
www  IN A   10.3.3.10
www  IN TXT "eng"
""" % ENG_ADDR

RPZ_ZONE = """$TTL 300
$ORIGIN rpz.test.
@                     SOA localhost. root.localhost. 1 3600 600 86400 300
@                     NS  localhost.
blocked.interop       CNAME .
*.blocked.interop     CNAME .
nodata.interop        CNAME *.
mail.interop          CNAME rpz-passthru.
walled.interop        A 10.10.10.10
cn.interop            CNAME www.corp.
www.sub.interop       CNAME .
chain3.interop        CNAME .
host.sub.interop      A 10.9.9.9
"""

LOCAL_ZONES = [
    "st.interop. static",
    "tr.interop. transparent",
    "tt.interop. typetransparent",
    "rd.interop. redirect",
    "rf.interop. refuse",
    "an.interop. always_nxdomain",
    "2.0.192.in-addr.arpa. nodefault",
]
LOCAL_DATA = [
    "www.interop. 60 IN A 10.0.0.1",
    "st.interop. 600 IN SOA ns.st.interop. admin.st.interop. 1 3600 600 86400 300",
    "a.st.interop. 60 IN TXT \"static text\"",
    "a.tr.interop. 60 IN A 10.0.0.2",
    "a.tt.interop. 60 IN A 10.0.0.3",
    "rd.interop. 60 IN A 10.0.0.4",
    "ok.rf.interop. 60 IN A 10.0.0.5",
    "x.an.interop. 60 IN A 10.0.0.6",
    "cname.interop. 60 IN CNAME www.corp.",
    "mx.interop. 60 IN MX 10 mail.interop.",
]

QUERIES = [
    # the default upstream
    ("mail.interop.", "A"), ("alias.interop.", "A"), ("nothere.interop.", "A"),
    ("www.sub.interop.", "AAAA"),
    # forward-zone corp.
    ("www.corp.", "A"), ("www.corp.", "AAAA"), ("nx.corp.", "A"), ("corp.", "SOA"),
    # stub-zone lab.: its authoritative server, asked without recursion
    ("www.lab.", "A"), ("www.lab.", "TXT"), ("nx.lab.", "A"), ("lab.", "SOA"),
    ("lab.", "NS"), ("out.lab.", "A"),
] + ([
    # its delegated child: the referral followed
    ("www.eng.lab.", "A"), ("www.eng.lab.", "TXT"), ("www.eng.lab.", "AAAA"),
    ("nx.eng.lab.", "A"), ("eng.lab.", "SOA"), ("eng.lab.", "NS"),
] if ENG else []) + [
    # local-data over an upstream name: its own type only
    ("www.interop.", "A"), ("www.interop.", "AAAA"), ("WWW.Interop.", "A"),
    ("mx.interop.", "MX"), ("cname.interop.", "A"), ("mx.interop.", "ANY"),
    ("a.st.interop.", "ANY"),
    # local-zone types
    ("a.st.interop.", "TXT"), ("a.st.interop.", "A"), ("b.st.interop.", "A"),
    ("st.interop.", "SOA"), ("a.tr.interop.", "A"), ("a.tr.interop.", "AAAA"),
    ("a.tt.interop.", "A"), ("a.tt.interop.", "AAAA"), ("x.y.rd.interop.", "A"),
    ("rd.interop.", "A"), ("x.rd.interop.", "MX"), ("ok.rf.interop.", "A"),
    ("no.rf.interop.", "A"), ("an.interop.", "A"), ("x.an.interop.", "A"),
    # RFC 6303 defaults, and one turned off
    ("1.1.168.192.in-addr.arpa.", "PTR"), ("168.192.in-addr.arpa.", "SOA"),
    ("5.4.3.10.in-addr.arpa.", "PTR"), ("1.0.0.127.in-addr.arpa.", "PTR"),
    ("1.1.16.172.in-addr.arpa.", "PTR"), ("10.2.0.192.in-addr.arpa.", "PTR"),
    # RPZ
    ("blocked.interop.", "A"), ("x.blocked.interop.", "A"), ("nodata.interop.", "A"),
    ("mail.interop.", "MX"), ("walled.interop.", "A"), ("walled.interop.", "AAAA"),
    ("cn.interop.", "A"), ("www.sub.interop.", "A"),
    # RPZ on the names a CNAME chain leads to
    ("chain1.interop.", "A"), ("chain2.interop.", "AAAA"), ("tosub.interop.", "A"),
    # RFC 6761 6.3
    ("localhost.", "A"), ("localhost.", "AAAA"), ("x.localhost.", "A"), ("localhost.", "MX"),
    ("localhost.", "NS"), ("localhost.", "SOA"),
    ("1.0.0.127.in-addr.arpa.", "A"),
    ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.", "PTR"),
]


def view(r):
    if r is None:
        return {"rcode": "NO REPLY"}
    def sec(s):
        return frozenset((rr.name.to_text().lower(), dns.rdatatype.to_text(rr.rdtype),
                          rd.to_text().lower()) for rr in s for rd in rr)
    return {"rcode": dns.rcode.to_text(r.rcode()), "AA": bool(r.flags & dns.flags.AA),
            "answer": sec(r.answer), "authority": sec(r.authority)}


def _rpz_aa(q, ub, ours):
    """Unbound sets AA in the answers of its RPZ (it answers them as a
    local zone); tierdns-local clears it: a blocklist's answer is not the
    name's authoritative data (RFC 1035 4.1.1), and BIND's RPZ answers
    carry no AA either. Deliberate for the RPZ names and the chains that
    lead to one."""
    if "blocked" not in q[0] and "walled" not in q[0] and "nodata" not in q[0] and \
       q[0] not in ("cn.interop.", "www.sub.interop.") + CHAINS_TO_RPZ:
        return None
    if ub.get("AA") and not ours.get("AA"):
        return dict(ub, AA=False), ours
    return None


# The names whose CNAME chains lead to an RPZ trigger (RPZ_ZONE).
CHAINS_TO_RPZ = ("chain1.interop.", "chain2.interop.", "tosub.interop.")


def _rpz_chain_cached(q, ub, ours):
    """chain2 -> chain3, whose trigger says NXDOMAIN: Unbound 1.17.1 answers
    chain1 (asked first) NXDOMAIN with the chain cut at chain3, but chain2
    afterwards, with the CNAMEs in its cache, with the whole unfiltered
    chain and www's data (its RPZ on CNAME targets is applied by its
    iterator, not to answers from its cache: Unbound issue #954).
    tierdns-local applies the trigger to answers from the upstream and from
    its cache alike: the chain cut at chain3, NXDOMAIN. Deliberate when
    ours is Unbound's chain cut there."""
    if q[0] != "chain2.interop." or ub.get("rcode") != "NOERROR" or \
       ours.get("rcode") != "NXDOMAIN" or not ours.get("answer") or \
       not ours["answer"] < ub.get("answer", frozenset()) or \
       not any(r[0] == "chain3.interop." for r in ub["answer"]):
        return None
    return {}, {}


def _cname_followed(q, ub, ours):
    """A CNAME in local data or in an RPZ: Unbound follows it and adds
    the target's answer; tierdns-local answers the CNAME alone, which a
    stub resolver follows itself (RFC 1034 3.6.2). The CNAME is the
    same in both."""
    ours_c = {r for r in ours.get("answer", ()) if r[1] == "CNAME"}
    if not ours_c or ours_c != set(ours["answer"]) or not ours_c <= set(ub.get("answer", ())):
        return None
    return dict(ub, answer=frozenset(ours_c)), ours


def _typetransparent(q, ub, ours):
    """A local-data record without a local-zone: Unbound makes its name a
    transparent zone, so the name's other types are NODATA (AA); issue 16
    asks that such a record override only its own name and type
    (Unbound's typetransparent), the rest resolved: the upstream's answer,
    without AA."""
    if q != ("www.interop.", "AAAA") or ub.get("answer") or not ours.get("answer"):
        return None
    if ub.get("rcode") != "NOERROR" or ours.get("rcode") != "NOERROR":
        return None
    return {}, {}


def _any_local(q, ub, ours):
    """ANY at a name with local data: Unbound 1.17 looks for an RRset of
    type ANY, finds none and answers NODATA (AA); tierdns-local answers
    with the name's local RRsets, one over UDP (RFC 8482 4.1), as its
    upper tier answers ANY. Both answer locally with AA and NOERROR; ours
    holds one of the configured RRsets."""
    if q[1] != "ANY" or ub.get("answer") or ub.get("rcode") != "NOERROR":
        return None
    if ours.get("rcode") != "NOERROR" or not ours.get("AA") or len(ours.get("answer", ())) < 1:
        return None
    rrsets = {(r[0], r[1]) for r in ours["answer"]}
    if len(rrsets) != 1 or next(iter(rrsets))[0] != q[0]:
        return None
    return {}, {}


DELIBERATE = [_rpz_aa, _rpz_chain_cached, _cname_followed, _typetransparent, _any_local]


def main():
    env = ic.Env("policy_diff")
    try:
        upper = env.start_upper()
        corp_file = env.path("corp.zone")
        with open(corp_file, "w") as f:
            f.write(CORP_ZONE)
        corp = env.start_upper(zones=[("corp.", corp_file)], name="upper-corp")
        lab_file = env.path("lab.zone")
        with open(lab_file, "w") as f:
            f.write(LAB_ZONE + (LAB_DELEGATION if ENG else ""))
        lab = env.start_upper(zones=[("lab.", lab_file)], name="upper-lab")
        if ENG:
            eng_file = env.path("eng.zone")
            with open(eng_file, "w") as f:
                f.write(ENG_ZONE)
            env.start_upper(zones=[("eng.lab.", eng_file)], name="upper-eng",
                            where=(ENG_ADDR, 53))
        else:
            print("not root: the delegated child of the stub zone is left out")
        rpz_file = env.path("block.rpz")
        with open(rpz_file, "w") as f:
            f.write(RPZ_ZONE)
        # start_unbound turns 2.0.192.in-addr.arpa.'s default off itself.
        extra = "server:\n"
        for z in LOCAL_ZONES:
            name, typ = z.split()
            if name != "2.0.192.in-addr.arpa.":
                extra += '    local-zone: "%s" %s\n' % (name, typ)
        for rr in LOCAL_DATA:
            extra += "    local-data: '%s'\n" % rr
        extra += """forward-zone:
    name: "corp."
    forward-addr: 127.0.0.1@%d
rpz:
    name: "rpz.test."
    zonefile: "%s"
""" % (corp.port, rpz_file)
        ub = env.start_unbound("unbound", forward=upper, stubs=[("lab.", lab)],
                               modules="respip iterator", extra=extra)
        argv = [env.bin("tierdns-local"), "--db", env.path("local-db"), "--listen",
                "127.0.0.1", "--port", "@PORT@", "--upstream", upper.endpoint(),
                "--forward", "corp.@" + corp.endpoint(), "--stub", "lab.@" + lab.endpoint(),
                "--rpz", rpz_file, "-t", "1"]
        for z in LOCAL_ZONES:
            argv += ["--local-zone", z]
        for rr in LOCAL_DATA:
            argv += ["--local-data", rr]
        ours = env._spawn("local", argv, env._ready_tcp)

        same = deliberate = 0
        bad = []
        for name, qtype in QUERIES:
            q = dns.message.make_query(name, qtype)
            a = view(_ask(ub, q))
            b = view(_ask(ours, q))
            why = None
            if name.endswith("eng.lab.") and b.get("rcode") not in ("NOERROR", "NXDOMAIN"):
                # the same failure in both would compare identical
                bad.append((name, qtype, a, b))
                continue
            if a != b:
                for rule in DELIBERATE:
                    r = rule((name, qtype), a, b)
                    if r is not None and r[0] == r[1]:
                        why = rule.__name__
                        break
                    if r is not None:
                        a, b = r
                if a == b and why is None:
                    why = "combined"
            if a == b and why is None:
                same += 1
            elif why is not None:
                deliberate += 1
            else:
                bad.append((name, qtype, a, b))
            if VERBOSE:
                print("%-32s %-5s %s" % (name, qtype, why or ("same" if a == b else "DIFF")))
        for name, qtype, a, b in bad:
            print("DIFF %s %s\n  unbound: %s\n  tierdns: %s" % (name, qtype, a, b))
        print("policy diff: %d queries, %d identical, %d deliberate, %d unexplained"
              % (len(QUERIES), same, deliberate, len(bad)))
        env.stop(ours)
        if bad:
            env.show_logs()
            return 1
        return 0
    except ic.Failure as e:
        print("FAIL: %s" % e)
        env.show_logs()
        return 1


def _ask(p, q):
    try:
        return dns.query.udp(q, p.addr, timeout=ic.QUERY_TIMEOUT, port=p.port)
    except Exception:  # noqa: BLE001 - no reply is compared as such
        return None


if __name__ == "__main__":
    sys.exit(main())
