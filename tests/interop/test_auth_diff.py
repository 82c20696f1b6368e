#!/usr/bin/python3
"""Authoritative differential: NSD and tierdns-upper serve the same zone
files (tests/interop/zones) and get the same queries:
  - the generated set (interop_common.make_queries): every test name x
    every type (A AAAA NS SOA CNAME MX TXT PTR SRV CAA TYPE65534 ANY DS
    NAPTR), random case, EDNS off/512/1232/4096, RD on/off, a tenth over
    TCP, and the large answers again without EDNS, with EDNS 4096 and over
    TCP; a UDP answer with TC from either is asked again over TCP;
  - protocol edge cases (interop_common.edge_queries): CHAOS identity,
    other classes and opcodes, AXFR/IXFR over UDP, EDNS version 1, DO,
    unknown options, small payloads, two OPTs, bad QDCOUNT, QR=1 and short
    packets that must get no reply;
  - 61 queries pipelined on one TCP connection (answers matched by ID).

Compared: rcode, opcode, the QR/AA/TC/RD/RA/AD/CD flags, the question
(case-exact: RFC 1035 4.1.2 echo), EDNS version/payload/flags/options (less
RFC 8914 extended errors), and each section's RRsets as sets (owner names
case-insensitive, rdata in canonical form, TTLs compared). When both set TC
the sections are not compared (RFC 2181 section 9: a truncated reply's data
is not to be used); the TCP retry is compared in full instead.

A difference is a failure unless DELIBERATE explains it (each with its RFC
reason) or KNOWN_BUGS lists it (a tierdns bug, reported to the lead; shown
as XFAIL, and as "no longer reproduces" once fixed).

Run: TDNS_BUILD=build tests/interop/test_auth_diff.py  [-v]   (-v: every query)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_common as ic  # noqa: E402

SEED = int(os.environ.get("TDNS_INTEROP_SEED", "20261125"))


# --- deliberate differences ---------------------------------------------
#
# Each rule gets the query and both views (NSD first) and returns both
# views with what it explains removed, or None when it does not apply. A
# difference is deliberate when the views are equal after the rules.

def _axfr_udp(q, nsd, ours):
    """RFC 5936 4.2: AXFR is carried over TCP only. Issue 3 asks the
    upper to refuse it over UDP (REFUSED); NSD answers NOTIMP. Both are
    clean refusals without data."""
    if q.key() != "edge:AXFR interop. over UDP":
        return None
    if nsd.get("rcode") != "NOTIMP" or ours.get("rcode") != "REFUSED":
        return None
    return dict(nsd, rcode="-"), dict(ours, rcode="-")


def _cd_copied(q, nsd, ours):
    """RFC 4035 3.1.6: "a security-aware name server MUST copy the CD bit
    from a query into the corresponding response"; tierdns-upper does,
    NSD clears it."""
    if q.key() != "edge:CD bit in query" or not ours.get("flags", {}).get("CD"):
        return None
    if nsd.get("flags", {}).get("CD"):
        return None
    return nsd, dict(ours, flags=dict(ours["flags"], CD=False))


DELIBERATE = [
    ic.RULE_ANY,
    ic.RULE_ERROR_QUESTION,
    ic.RULE_CHAOS,
    ("RFC 5936 4.2: AXFR over UDP refused (REFUSED, as issue 3 asks), NSD says NOTIMP",
     _axfr_udp),
    ("RFC 4035 3.1.6: CD copied from the query, NSD clears it", _cd_copied),
]

# --- known tierdns bugs ---------------------------------------------------
#
# Differences that are tierdns bugs (reported to the lead, to be fixed in
# the owning module): {"id", "key": "name type" lower case, "expected" (per
# RFC), "got", optional "match"(q, nsd_view, ours)}. Shown as XFAIL.
KNOWN_BUGS = [
]


def main():
    env = ic.Env("auth")
    try:
        nsd = env.start_nsd()
        upper = env.start_upper()
        nsd.name, upper.name = "NSD", "tierdns-upper"
        queries = ic.make_queries(SEED) + ic.edge_queries(rd=False)
        print("seed %d: %d generated queries, NSD on %s, tierdns-upper on %s"
              % (SEED, len(queries), nsd.endpoint(), upper.endpoint()))
        d = ic.Diff("authoritative differential (NSD vs tierdns-upper)", nsd, upper,
                    ttl=True, rules=DELIBERATE, known_bugs=KNOWN_BUGS,
                    verbose="-v" in sys.argv).run(queries)
        pipe = ic.pipelined_queries(SEED + 1)
        d.run_pipelined(pipe)
        env.stop(upper)
        env.stop(nsd, expect_clean=False)
    except ic.Failure as e:
        print("FAIL: %s" % e, flush=True)
        env.show_logs()
        return 1
    return d.report()


if __name__ == "__main__":
    sys.exit(main())
