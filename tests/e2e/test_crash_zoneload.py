#!/usr/bin/python3
"""kill -9 of `tierdns-zone load` during a large load (issue 4, "crash
safety"). The store holds big.test. version 1 (serial 1, a few records);
version 2 (serial 2, 200000 A records) is loaded and the loader killed
after 0.3 s and at 85 % and 98 % of a measured full load. After
each kill `tierdns-zone list` must show version 1 or version 2 wholly
(serial and record count of one version), and tierdns-upper started on
the store serves that version (h5 and h150000 answered as that version
says)."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_crash_zoneload")
N = 200000
HEAD = "$ORIGIN big.test.\n$TTL 300\n@ SOA ns hostmaster %d 3600 900 604800 300\n@ NS ns\nns A 192.0.2.1\n"
v1 = os.path.join(h.tmp, "v1.zone")
v2 = os.path.join(h.tmp, "v2.zone")
with open(v1, "w") as f:
    f.write(HEAD % 1)
    for i in range(10):
        f.write("h%d A 10.1.0.%d\n" % (i, i))
with open(v2, "w") as f:
    f.write(HEAD % 2)
    f.write("".join("h%d A 10.2.%d.%d\n" % (i, (i >> 8) & 255, i & 255) for i in range(N)))


def big_line(db):
    r = h.zone(db, "list")
    h.check(r.returncode == 0, "tierdns-zone list failed: %s" % (r.stdout + r.stderr))
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0] == "big.test.":
            return (int(f[1]), int(f[3]))
    return None


base = os.path.join(h.tmp, "base")
h.zone_load(base, v1)
OLD = big_line(base)
h.check(OLD == (1, 13), "version 1: list says %s" % (OLD,))

# a full load, uninterrupted, gives the new state and its duration
full = os.path.join(h.tmp, "full")
shutil.copytree(base, full)
t0 = time.monotonic()
h.zone_load(full, v2)
T = time.monotonic() - t0
NEW = big_line(full)
h.check(NEW == (2, N + 3), "version 2: list says %s" % (NEW,))
shutil.rmtree(full)
h.log("an uninterrupted load of %d records takes %.2f s" % (N, T))


def serve_check(db, version, label):
    d = h.start_upper("UPPER", db)
    m, _ = hl.query(d, "h5.big.test.")
    want = "10.%d.0.5" % version
    h.check(hl.answer_addrs(m) == {want}, "%s: version %d in the list but h5.big.test is %s %s" %
            (label, version, hl.rcode_text(m), hl.answer_addrs(m)))
    m, _ = hl.query(d, "h150000.big.test.")
    got = hl.rcode_text(m)
    if version == 1:
        h.check(got == "NXDOMAIN", "%s: version 1 but h150000.big.test is %s" % (label, got))
    else:
        h.check(hl.answer_addrs(m) == {"10.2.%d.%d" % ((150000 >> 8) & 255, 150000 & 255)},
                "%s: version 2 but h150000.big.test is %s" % (label, got))
    h.stop(d)
    h.daemons.remove(d)


results = []
# 0.3 s (in the parse), then close to the commit; the script stays under
# 60 s while the load takes under ~15 s.
for k, delay in enumerate([0.3, T * 0.85, T * 0.98]):
    db = os.path.join(h.tmp, "db%d" % k)
    shutil.copytree(base, db)
    p = subprocess.Popen([hl.ZONE_BIN, "--db", db, "load", v2],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    h.children.append(p)
    time.sleep(delay)
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    p.wait()
    state = big_line(db)
    label = "kill after %.2f s (%s)" % (delay, "killed" if killed else "had finished")
    h.check(state in (OLD, NEW), "%s: big.test. is half-loaded: (serial, records) %s, "
            "expected %s or %s" % (label, state, OLD, NEW))
    results.append("%s -> %s" % (label, "old" if state == OLD else "new" if state == NEW else state))
    if state in (OLD, NEW):
        serve_check(db, 1 if state == OLD else 2, label)
    shutil.rmtree(db)
h.log("; ".join(results))
h.finish()
