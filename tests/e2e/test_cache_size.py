#!/usr/bin/python3
"""--cache-size is what the cache holds (issue 18): with --cache-size 1M,
30,000 distinct answers (more than a megabyte of keys and values) leave the cache
holding a megabyte's worth of them (not a quarter of it, as a budget that
counted the whole map with its page overhead would), and evicting the rest."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_cache_size")
if subprocess.run(["which", "dnsperf"], capture_output=True).returncode != 0:
    h.skip("dnsperf missing")
    h.finish()
N = 30000
zone = os.path.join(h.tmp, "big.zone")
with open(zone, "w") as f:
    f.write("$ORIGIN big.\n$TTL 3600\n@ SOA ns hostmaster 1 3600 900 604800 3600\n"
            "@ NS ns\nns A 192.0.2.1\n")
    for i in range(N):
        f.write("name-number-%d A 10.%d.%d.%d\n" % (i, i >> 16 & 255, i >> 8 & 255, i & 255))
updb = os.path.join(h.tmp, "upper")
h.zone_load(updb, zone)
up = h.start_upper("UPPER", updb, "--threads", "1")
lodb = os.path.join(h.tmp, "local")
lo = h.start_local("LOCAL", lodb, ["%s:%d" % (up.addr, up.port)], "--threads", "1",
                   "--cache-size", "1M")
qfile = os.path.join(h.tmp, "q.txt")
with open(qfile, "w") as f:
    for i in range(N):
        f.write("name-number-%d.big. A\n" % i)
r = subprocess.run(["dnsperf", "-s", lo.addr, "-p", str(lo.port), "-d", qfile, "-n", "1",
                    "-c", "1", "-q", "20", "-t", "5"], capture_output=True, text=True)
h.check("Queries lost:         0 " in r.stdout or "Queries lost:         0" in r.stdout,
        "every query answered: %s" % [ln for ln in r.stdout.splitlines() if "lost" in ln])
h.stop(lo)
_, recs = hl.dump_cache(h, lodb)
cached = sum(1 for rec in recs if len(rec) >= 5 and rec[3] == "A" and
             rec[0].startswith("name-number-"))
# One entry (its record key, a packed one-record value and its index
# entry) takes about 80 bytes here: 1M holds about 13,000; a quarter of the
# budget would hold about 3,300, well under the bound checked.
h.log("%d of %d answers cached with --cache-size 1M" % (cached, N))
h.check(cached > 8000, "the cache holds far more than a quarter megabyte's worth (%d)" % cached)
h.check(cached < N, "and not all %d: the budget evicted (%d)" % (N, cached))
h.stop(up)
h.finish()
