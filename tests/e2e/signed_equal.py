#!/usr/bin/env python3
"""signed_equal.py BEFORE AFTER WHOLE - dumps (tierdns-zone dump) of a
signed zone before an edit, after it (signed by the edit), and of the same
edited zone signed whole by `tierdns-zone sign` in another store.

Exit 0 when AFTER and WHOLE hold the same records - RRSIGs compared by
everything but their inception, expiration and signature (ECDSA signatures
differ at every signing) - and every RRSIG of AFTER over an RRset that
was signed before and did not change (the SOA aside: its serial changes)
is byte-identical to the one in BEFORE. Prints each difference, then
"changed-signatures N": the RRSIGs of AFTER not in BEFORE."""
import sys
from collections import defaultdict


def load(path):
    recs = []
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith(';'):
                continue
            owner, ttl, _cls, rtype, rdata = line.rstrip('\n').split('\t', 4)
            recs.append((owner.lower(), ttl, rtype, rdata.strip()))
    return recs


def without_times(r):
    owner, ttl, rtype, rdata = r
    if rtype == 'RRSIG':
        f = rdata.split()
        rdata = ' '.join(f[:4] + f[6:8])  # covered alg labels ttl, tag signer
    return (owner, ttl, rtype, rdata)


def rrsets(recs):
    d = defaultdict(set)
    for owner, ttl, rtype, rdata in recs:
        if rtype != 'RRSIG':
            d[(owner, rtype)].add((ttl, rdata))
    return d


def main():
    before, after, whole = (load(p) for p in sys.argv[1:4])
    a = sorted(map(without_times, after))
    w = sorted(map(without_times, whole))
    bad = 0
    for r in sorted(set(a) - set(w)):
        print('only in the edited zone:', '\t'.join(r))
        bad += 1
    for r in sorted(set(w) - set(a)):
        print('only in the zone signed whole:', '\t'.join(r))
        bad += 1
    if len(a) != len(w):
        print('record counts differ: %d edited, %d signed whole' % (len(a), len(w)))
        bad += 1
    sets_before, sets_after = rrsets(before), rrsets(after)
    sigs_before = set(r for r in before if r[2] == 'RRSIG')
    signed_before = set((r[0], r[3].split()[0]) for r in sigs_before)
    changed = 0
    for r in after:
        if r[2] != 'RRSIG' or r in sigs_before:
            continue
        changed += 1
        covered = (r[0], r[3].split()[0])
        if (covered[1] != 'SOA' and covered in signed_before and
                sets_before.get(covered) == sets_after.get(covered)):
            print('signed again though unchanged:', '\t'.join(r))
            bad += 1
    print('changed-signatures', changed)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
