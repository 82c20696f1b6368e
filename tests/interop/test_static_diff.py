#!/usr/bin/python3
"""Static-zone differential: tierdns-local answers the zones loaded into
its own store before it looks at its cache or upstream (SPEC: "static
records answer first"), so for those names it is an authoritative server
and must answer as NSD does from the same files. NSD and a tierdns-local
whose store holds tests/interop/zones (and whose upstream is a port where
nothing listens) get the generated query set with RD set, less the names
outside every zone (those go upstream), and a pipelined batch.

Compared as in test_auth_diff: rcode, opcode, flags, the question
(case-exact), EDNS, each section's RRsets as sets with TTLs.

Deliberate: RA (tierdns-local offers recursion, RFC 1035 4.1.1; NSD does
not), and the ANY subset of RFC 8482.

Run: TDNS_BUILD=build tests/interop/test_static_diff.py  [-v]
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_common as ic  # noqa: E402

SEED = int(os.environ.get("TDNS_INTEROP_SEED", "20261128"))


def _ra(q, nsd, ours):
    """RFC 1035 4.1.1: RA tells whether the server offers recursion;
    tierdns-local does (for names outside its static zones), NSD does not.
    Everything else, AA included, must agree."""
    if not ours.get("flags", {}).get("RA") or nsd.get("flags", {}).get("RA"):
        return None
    return nsd, dict(ours, flags=dict(ours["flags"], RA=False))


DELIBERATE = [
    ("RFC 1035 4.1.1: RA set by tierdns-local, a recursive service", _ra),
    ic.RULE_ANY,
]

# {"id", "key": "name type" lower case, "expected" (per RFC), "got"}
KNOWN_BUGS = [
]


def in_zones(name):
    return any(name == z or name.endswith("." + z) for z, _ in ic.ZONES)


def main():
    env = ic.Env("static")
    try:
        nsd = env.start_nsd()
        db = env.path("local-db")
        files = [os.path.join(ic.ZONES_DIR, f) for _, f in ic.ZONES]
        r = subprocess.run([env.bin("tierdns-zone"), "--db", db, "load"] + files,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise ic.Failure("tierdns-zone load failed:\n%s" % r.stdout.decode(errors="replace"))
        nowhere = "127.0.0.1:%d" % ic.free_port()
        local = env.start_local("local", None, db=db, upstream_endpoint=nowhere)
        nsd.name, local.name = "NSD", "tierdns-local (static zones)"
        names = [(n, note) for n, note in ic.NAMES if in_zones(n.lower())]
        queries = ic.make_queries(SEED, names=names, rd=True)
        print("seed %d: %d generated queries; NSD on %s, tierdns-local on %s (upstream %s, "
              "nothing there)" % (SEED, len(queries), nsd.endpoint(), local.endpoint(), nowhere))
        d = ic.Diff("static-zone differential (NSD vs tierdns-local's own zones)", nsd, local,
                    ttl=True, rules=DELIBERATE, known_bugs=KNOWN_BUGS,
                    verbose="-v" in sys.argv).run(queries)
        pipe = [q for q in ic.pipelined_queries(SEED + 1, rd=True) if in_zones(q.name.lower())]
        d.run_pipelined(pipe)
        env.stop(local)
        env.stop(nsd, expect_clean=False)
    except ic.Failure as e:
        print("FAIL: %s" % e, flush=True)
        env.show_logs()
        return 1
    return d.report()


if __name__ == "__main__":
    sys.exit(main())
