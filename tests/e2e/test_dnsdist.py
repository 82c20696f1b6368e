#!/usr/bin/python3
"""dnsdist (Debian package) in front of two tierdns-local (issue 13), with
a generated configuration: round robin over both, a health check of each
(an A query that must resolve, every second):

  - answers through dnsdist, spread over both instances (each has its own
    scripted upstream, so each one's misses can be counted);
  - one instance stopped: after the health check notices, every query is
    answered by the other;
  - restarted on its port: it is taken back.
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_dnsdist")
DNSDIST = shutil.which("dnsdist") or "/usr/bin/dnsdist"
if not os.access(DNSDIST, os.X_OK):
    h.skip("dnsdist is not installed")
    h.finish()


def handler(up, seen):
    if not seen.msg:
        return None
    return [("send", hl.a_reply(seen, "192.0.2.88", ttl=3600))]


ups = [hl.FakeUpstream(h, handler), hl.FakeUpstream(h, handler)]
locs = []
for i, up in enumerate(ups):
    locs.append(h.start_local("LOCAL%d" % (i + 1), os.path.join(h.tmp, "db%d" % i),
                              ["%s:%d" % (up.addr, up.port)], "-t", "1"))

addr = hl.rand_addr()
port = hl.rand_port()
conf = os.path.join(h.tmp, "dnsdist.conf")
with open(conf, "w") as f:
    f.write('setLocal("%s:%d")\n' % (addr, port))
    f.write('setACL({"127.0.0.0/8"})\n')
    f.write('setSecurityPollSuffix("")\n')
    for i, d in enumerate(locs):
        f.write('newServer({address="%s:%d", name="local%d", checkName="health.test.", '
                'checkType="A", mustResolve=true, checkInterval=1, maxCheckFailures=1, '
                'rise=1})\n' % (d.addr, d.port, i + 1))
    f.write('setServerPolicy(roundrobin)\n')
log = os.path.join(h.tmp, "dnsdist.log")
with open(log, "ab") as lf:
    dd = subprocess.Popen([DNSDIST, "--supervised", "--disable-syslog", "-C", conf],
                          stdout=lf, stderr=subprocess.STDOUT)
h.children.append(dd)
front = hl.Daemon("DNSDIST", dd, addr, port, log)


def ask(name):
    m, _ = hl.query(front, name)
    return m is not None and hl.answer_addrs(m) == {"192.0.2.88"}


ok = False
for _ in range(100):
    if dd.poll() is not None:
        break
    if ask("ready.test."):
        ok = True
        break
    time.sleep(0.1)
if not h.check(ok, "dnsdist answers: %s" % front.log_text()[-500:]):
    h.finish()
time.sleep(2.5)  # both pass their first health checks

c0 = [u.count() for u in ups]
answered = sum(ask("a%d.test." % i) for i in range(40))
c1 = [u.count() for u in ups]
h.check(answered == 40, "40 queries through dnsdist: %d answered" % answered)
h.check(c1[0] - c0[0] >= 10 and c1[1] - c0[1] >= 10,
        "both instances take queries (misses upstream: %d and %d)" %
        (c1[0] - c0[0], c1[1] - c0[1]))

# Failover: LOCAL1 stops.
h.stop(locs[0])
time.sleep(3.5)
c0 = [u.count() for u in ups]
answered = sum(ask("b%d.test." % i) for i in range(40))
c1 = [u.count() for u in ups]
h.check(answered == 40, "with one instance stopped every query is answered: %d of 40"
        % answered)
h.check(c1[1] - c0[1] >= 40 and c1[0] == c0[0],
        "all by the other instance (%d, %d)" % (c1[0] - c0[0], c1[1] - c0[1]))

# It comes back on its port and is taken back.
locs[0] = h.start_local("LOCAL1B", os.path.join(h.tmp, "db0"),
                        ["%s:%d" % (ups[0].addr, ups[0].port)], "-t", "1",
                        addr=locs[0].addr, port=locs[0].port)
time.sleep(3.5)
c0 = [u.count() for u in ups]
answered = sum(ask("c%d.test." % i) for i in range(40))
c1 = [u.count() for u in ups]
h.check(answered == 40 and c1[0] - c0[0] >= 10,
        "the restarted instance is taken back: %d answered, %d by it" %
        (answered, c1[0] - c0[0]))

dd.terminate()
dd.wait(timeout=10)
for d in locs[1:] + locs[:1]:
    h.stop(d)
h.finish()
