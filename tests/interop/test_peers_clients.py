#!/usr/bin/python3
"""Peers as clients: each real peer uses the other implementation as its
server, and must get the same answers as from its own kind.

Part 1 - Unbound iterating through tierdns-upper: two Unbound instances
(iterator only, no validator, QNAME minimisation on), one with stub-zones for the test zones (and
".", so nothing ever leaves the machine) pointing at tierdns-upper, the
other with the same stub-zones pointing at NSD serving the same files. The
names of the test zones that do not lead out of them (delegations to
unreachable documentation addresses excepted) are resolved through both;
rcode, flags and RRsets (TTLs within 3 s) must agree, and enough of them must
be real answers (so two SERVFAILing resolvers cannot pass).

Part 2 - tierdns-local forwarding to NSD: one tierdns-local with
--upstream NSD, another with --upstream tierdns-upper; the whole generated
query set (RD set) goes to both and must give the same answers (TTLs
within 3 s).

Differences are failures unless DELIBERATE (with RFC reasons) or
KNOWN_BUGS (XFAIL) list them.

Run: TDNS_BUILD=build tests/interop/test_peers_clients.py  [-v]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_common as ic  # noqa: E402

SEED = int(os.environ.get("TDNS_INTEROP_SEED", "20261127"))

# Names whose resolution needs a server this test does not run: the
# delegations point at 192.0.2.53 and ns.elsewhere.test., and Unbound would
# spend its whole timeout budget on them.
UNREACHABLE = ("deleg.interop.", "deleg2.interop.", "todeleg.interop.")


def resolvable(name):
    return not any(name == u or name.endswith("." + u) for u in UNREACHABLE)


DELIBERATE = [ic.RULE_ANY]

# {"id", "key": "name type" lower case, "expected" (per RFC), "got"}
KNOWN_BUGS_UNBOUND = [
]
KNOWN_BUGS_LOCAL = [
]

MIN_REAL_ANSWERS = 80


def part_unbound(env, nsd, upper, verbose):
    stubs = [(z, None) for z, _ in ic.ZONES] + [(".", None)]
    # QNAME minimisation on: Unbound walks down label by label (RFC 9156),
    # so empty non-terminals and NXDOMAIN cuts are exercised as a real
    # resolver meets them.
    ub_upper = env.start_unbound("unbound-upper", stubs=[(z, upper) for z, _ in stubs],
                                 qname_min=True)
    ub_nsd = env.start_unbound("unbound-nsd", stubs=[(z, nsd) for z, _ in stubs],
                               qname_min=True)
    ub_upper.name, ub_nsd.name = "Unbound via tierdns-upper", "Unbound via NSD"
    names = [(n, note) for n, note in ic.NAMES if resolvable(n)]
    queries = ic.make_queries(SEED, names=names, rd=True)
    print("part 1: %d queries for %d names; Unbound via NSD on %s, via tierdns-upper on %s"
          % (len(queries), len(names), ub_nsd.endpoint(), ub_upper.endpoint()))
    d = ic.Diff("peers part 1 (Unbound stub-zones: NSD vs tierdns-upper)", ub_nsd, ub_upper,
                ttl=False, ttl_slack=3, rules=DELIBERATE, known_bugs=KNOWN_BUGS_UNBOUND,
                verbose=verbose).run(queries)
    # Enough real answers through tierdns-upper, and the plainest one right.
    real = 0
    for q in queries:
        if q.qtype in ("A", "AAAA", "TXT", "MX", "SRV", "PTR", "CAA", "SOA", "NS"):
            r = d.asker.ask(ub_upper, q)
            if (not isinstance(r, (str, type(None))) and r.rcode() == 0 and r.answer):
                real += 1
    www = d.asker.ask(ub_upper, ic.Query("www.interop.", "A", 1232, True))
    ok = (www is not None and not isinstance(www, str) and
          any(rd.to_text() == "192.0.2.10" for rrset in www.answer for rd in rrset))
    env.stop(ub_upper, expect_clean=False)
    env.stop(ub_nsd, expect_clean=False)
    return d, real, ok


def part_local(env, nsd, upper, verbose):
    l_nsd = env.start_local("local-nsd", nsd)
    l_upper = env.start_local("local-upper", upper)
    l_nsd.name, l_upper.name = "tierdns-local via NSD", "tierdns-local via tierdns-upper"
    queries = ic.make_queries(SEED + 1, rd=True)
    print("part 2: %d queries; tierdns-local via NSD on %s, via tierdns-upper on %s"
          % (len(queries), l_nsd.endpoint(), l_upper.endpoint()))
    d = ic.Diff("peers part 2 (tierdns-local: NSD vs tierdns-upper upstream)", l_nsd, l_upper,
                ttl=False, ttl_slack=3, rules=DELIBERATE, known_bugs=KNOWN_BUGS_LOCAL,
                verbose=verbose).run(queries)
    env.stop(l_upper)
    env.stop(l_nsd)
    return d


def main():
    verbose = "-v" in sys.argv
    env = ic.Env("peers")
    try:
        nsd = env.start_nsd()
        upper = env.start_upper()
        nsd.name, upper.name = "NSD", "tierdns-upper"
        d1, real, www_ok = part_unbound(env, nsd, upper, verbose)
        d2 = part_local(env, nsd, upper, verbose)
        env.stop(upper)
        env.stop(nsd, expect_clean=False)
    except ic.Failure as e:
        print("FAIL: %s" % e, flush=True)
        env.show_logs()
        return 1
    rc = d1.report(minimum=300)
    print("part 1: %d queries got a NOERROR answer with data from Unbound via tierdns-upper"
          % real)
    if real < MIN_REAL_ANSWERS:
        print("FAIL: fewer than %d real answers through tierdns-upper" % MIN_REAL_ANSWERS)
        rc = 1
    if not www_ok:
        print("FAIL: Unbound via tierdns-upper did not resolve www.interop. A 192.0.2.10")
        rc = 1
    rc |= d2.report(minimum=300)
    return rc


if __name__ == "__main__":
    sys.exit(main())
