#!/usr/bin/python3
"""DNSSEC authoritative differential: NSD and tierdns-upper serve the same
zones, signed at test time (ldns-keygen + ldns-signzone, fresh keys in the
test's temporary directory, never committed), and get the same queries.

The zones are those of tests/interop/zones: sub.interop. is signed first
and its DS goes into interop. (a secure delegation); deleg.interop. and
deleg2.interop. stay unsigned delegations (insecure: the proof that they
have no DS). Each variant is one pair of servers:
  - nsec:       NSEC chains (RFC 4035), ECDSA P-256 (algorithm 13);
  - nsec3:      NSEC3, RFC 9276 defaults (0 extra iterations, empty salt),
                Ed25519 (algorithm 15);
  - nsec3-optout: NSEC3 with opt-out (RFC 5155 6), the unsigned
                delegations have no NSEC3 of their own; RSASHA256 (8).
Queries: every name of interop_common.NAMES x every type of its TYPES plus
DNSKEY, NSEC, NSEC3PARAM, RRSIG and DS, with DO set and without (random
case, EDNS payload and transport as the plain differential); a UDP answer
with TC is asked again over TCP.

Compared as test_auth_diff.py compares (sections as sets of RRsets, TTLs
exact); a difference is a failure unless DELIBERATE explains it.

Run: TDNS_BUILD=build tests/interop/test_dnssec_diff.py [-v] [variant...]
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import interop_common as ic  # noqa: E402

SEED = int(os.environ.get("TDNS_INTEROP_SEED", "20261206"))

VARIANTS = {
    "nsec": {"alg": "ECDSAP256SHA256", "args": []},
    "nsec3": {"alg": "ED25519", "args": ["-n", "-t", "0"]},
    "nsec3-optout": {"alg": "RSASHA256", "args": ["-n", "-t", "0", "-p"]},
}

DNSSEC_TYPES = ["DNSKEY", "NSEC", "NSEC3PARAM", "RRSIG", "DS"]


def signed_zones(env, variant):
    d = env.path("keys-" + variant)
    os.makedirs(d)
    z = {o: os.path.join(ic.ZONES_DIR, f) for o, f in ic.ZONES}
    v = VARIANTS[variant]
    sub, sub_ds, _ = ic.sign_zone(d, "sub.interop.", z["sub.interop."], v["alg"], v["args"])
    parent, _, _ = ic.sign_zone(d, "interop.", z["interop."], v["alg"], v["args"],
                                "\n" + sub_ds + "\n")
    rev, _, _ = ic.sign_zone(d, "2.0.192.in-addr.arpa.", z["2.0.192.in-addr.arpa."],
                             v["alg"], v["args"])
    return [("interop.", parent), ("sub.interop.", sub), ("2.0.192.in-addr.arpa.", rev)]


def queries(seed):
    rng = random.Random(seed)
    out = []
    for name, note in ic.NAMES:
        for t in ic.TYPES + DNSSEC_TYPES:
            for do in (True, False):
                n = ic.random_case(rng, name) if rng.random() < 0.5 else name
                edns = rng.choice([1232, 4096, 512]) if do else rng.choice(ic.EDNS_CHOICES)
                out.append(ic.Query(n, t, edns, False, rng.random() < 0.1, note, do))
    return out


# --- deliberate differences ---------------------------------------------

DELIBERATE = [
    ic.RULE_ANY,
    ic.RULE_ERROR_QUESTION,
]

KNOWN_BUGS = []


def one_variant(variant, verbose):
    env = ic.Env("dnssec-" + variant)
    try:
        zones = signed_zones(env, variant)
        nsd = env.start_nsd(zones)
        upper = env.start_upper(zones)
        nsd.name, upper.name = "NSD", "tierdns-upper"
        qs = queries(SEED)
        print("%s: seed %d, %d queries, NSD on %s, tierdns-upper on %s"
              % (variant, SEED, len(qs), nsd.endpoint(), upper.endpoint()), flush=True)
        d = ic.Diff("DNSSEC differential, %s (NSD vs tierdns-upper)" % variant, nsd, upper,
                    ttl=True, rules=DELIBERATE, known_bugs=KNOWN_BUGS,
                    verbose=verbose).run(qs)
        env.stop(upper)
        env.stop(nsd, expect_clean=False)
    except ic.Failure as e:
        print("FAIL: %s" % e, flush=True)
        env.show_logs()
        return 1
    finally:
        env.cleanup()
    return d.report()


def main():
    verbose = "-v" in sys.argv
    wanted = [a for a in sys.argv[1:] if not a.startswith("-")] or list(VARIANTS)
    rc = 0
    for v in wanted:
        rc |= one_variant(v, verbose)
    return rc


if __name__ == "__main__":
    sys.exit(main())
