#!/usr/bin/python3
"""The secondary's cost on a large zone, one build at a time:

    tools/xfr_secondary_bench.py BUILD_SECONDARY BUILD_PRIMARY N

A tierdns-upper primary (from BUILD_PRIMARY) holds an N-record zone and
NOTIFYs a tierdns-upper secondary (from BUILD_SECONDARY) on 127.0.0.1.
Prints the time from the secondary's start until it answers the zone's
last name (AXFR and load), its peak RSS (VmHWM) then, and three times
`tierdns-zone add` of one record on the primary -> NOTIFY -> SOA query ->
IXFR -> the secondary answers it (about 0.1 s of that is the primary's
NOTIFY poll and the secondary's tick), then the peak RSS again. Asserts
nothing.
"""
import os
import random
import subprocess
import sys
import tempfile
import time

import dns.message
import dns.query

bsec, bprim, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmp = tempfile.mkdtemp(prefix="tdns-xfrbench.")
zf = os.path.join(tmp, "big.zone")
with open(zf, "w") as f:
    f.write("$ORIGIN big.\n$TTL 300\n@ SOA ns1 hm 1 3600 600 86400 300\n@ NS ns1\n"
            "ns1 A 192.0.2.1\n")
    for i in range(n):
        f.write("h%d A 10.%d.%d.%d\n" % (i, i >> 16 & 255, i >> 8 & 255, i & 255))
pdb, sdb = os.path.join(tmp, "pdb"), os.path.join(tmp, "sdb")
subprocess.run([bprim + "/tierdns-zone", "--db", pdb, "load", zf], check=True,
               capture_output=True)
pp, sp = random.randint(20000, 30000), random.randint(30001, 40000)


def conf(name, text):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(text)
    return p


pc = conf("p.conf", 'zones:\n  - name: big.\n    allow-transfer: [127.0.0.1]\n'
          '    notify: ["127.0.0.1:%d"]\n' % sp)
sc = conf("s.conf", 'zones:\n  - name: big.\n    primaries: ["127.0.0.1:%d"]\n' % pp)
plog = open(os.path.join(tmp, "p.log"), "w")
slog = open(os.path.join(tmp, "s.log"), "w")
prim = subprocess.Popen([bprim + "/tierdns-upper", "--listen", "127.0.0.1", "--port", str(pp),
                         "--db", pdb, "-c", pc, "-t", "1"], stdout=plog, stderr=subprocess.STDOUT)
sec = subprocess.Popen([bsec + "/tierdns-upper", "--listen", "127.0.0.1", "--port", str(sp),
                        "--db", sdb, "-c", sc, "-t", "1"], stdout=slog, stderr=subprocess.STDOUT)


def answered(name):
    try:
        m = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=sp, timeout=0.5)
        return m.rcode() == 0 and len(m.answer) > 0
    except Exception:  # noqa: BLE001 - not yet
        return False


def hwm():
    with open("/proc/%d/status" % sec.pid) as f:
        return [line.split()[1] + " kB" for line in f if line.startswith("VmHWM")][0]


try:
    t0 = time.monotonic()
    while not answered("h%d.big." % (n - 1)):
        time.sleep(0.01)
        if time.monotonic() - t0 > 900:
            sys.exit("no AXFR within 900 s")
    axfr = time.monotonic() - t0
    h1 = hwm()
    res = []
    for k in range(3):
        time.sleep(0.5)
        name = "fresh%d.big." % k
        t0 = time.monotonic()
        subprocess.run([bprim + "/tierdns-zone", "--db", pdb, "add",
                        "%s 300 IN A 192.0.2.123" % name], check=True, capture_output=True)
        while not answered(name):
            time.sleep(0.002)
        res.append(time.monotonic() - t0)
    print("N=%d AXFR+load %.2f s, VmHWM after AXFR %s; add->served by IXFR: %s s; "
          "VmHWM after IXFRs %s" % (n, axfr, h1, ", ".join("%.3f" % x for x in res), hwm()))
    slog.flush()
    with open(os.path.join(tmp, "s.log")) as f:
        print("".join(line for line in f if " stored (" in line), end="")
finally:
    for p in (prim, sec):
        p.terminate()
        p.wait()
    subprocess.run(["rm", "-rf", tmp])
