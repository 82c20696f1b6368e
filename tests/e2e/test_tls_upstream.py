#!/usr/bin/python3
"""tierdns-local forwarding over DNS over TLS (issue 17, RFC 7858, RFC 8310
strict profile).

A test CA and a certificate for dns.test are made with openssl at test
time. Cases:
  - local -> upper's DoT listener (--upstream-tls ADDR:PORT#dns.test,
    --tls-ca): misses sent at once are all answered correctly over one
    TLS connection (reused and pipelined: /proc/net/tcp shows exactly one
    established connection to the upper's TLS port, one worker);
  - the upper restarts: the next miss opens a new connection and is
    answered; once the upper closes that one as idle (--tcp-idle), the
    next miss reconnects resuming the TLS session (the upper logs it);
  - a dead first DoT upstream fails over to the second within 3 s;
  - the wrong authentication name, and a certificate from another CA,
    fail closed: SERVFAIL with an Extended DNS Error, and a log line
    naming the upstream, the name and the reason;
  - local -> Unbound's DoT listener (tls-service-key/pem, tls-port).
Every daemon exits 0 on SIGTERM (no sanitizer report).
"""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402
import tls_lib as tl  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

h = hl.Harness("test_tls_upstream")
NAME = "dns.test"
pki = tl.Pki(h.tmp)
cert, key = pki.server(NAME)
other = tl.Pki(os.path.join(h.tmp, "other"))
ocert, okey = other.server(NAME)

udb = os.path.join(h.tmp, "upper")
h.zone_load(udb, os.path.join(hl.ZONES, "upper", "root.zone"),
            os.path.join(hl.ZONES, "upper", "site.zone"))

EXPECT = {
    "webapp.site.": {"192.0.2.10"},
    "api.site.": {"192.0.2.20", "192.0.2.21", "192.0.2.22"},
    "www.site.": {"192.0.2.10"},
    "ns1.site.": {"192.0.2.1"},
    "ns2.site.": {"192.0.2.2"},
    "docs.site.": {"192.0.2.10"},
}

ua = hl.rand_addr()
utp = tl.free_port(ua)


IDLE_MS = 1500


def start_upper(port=None, c=cert, k=key):
    return h.start_upper("UPPER", udb, "--tls-listen", "%s:%d" % (ua, utp),
                         "--tls-cert", c, "--tls-key", k, "-t", "1", "-v",
                         "--tcp-idle", str(IDLE_MS), addr=ua, port=port)


upper = start_upper()
h.check(tl.wait_listening(ua, utp), "upper: TLS port not listening")
UPPER_DOT = "%s:%d" % (ua, utp)


def start_local(label, *upstreams, ca=pki.ca):
    args = ["--db", os.path.join(h.tmp, label.lower()), "-t", "1", "--tls-ca", ca,
            "--control", os.path.join(h.tmp, label.lower() + ".sock")]
    for u in upstreams:
        args += ["--upstream-tls", u]
    return h.start(label, hl.LOCAL_BIN, args)


def established_to(addr, port):
    """Established TCP connections to addr:port (/proc/net/tcp, IPv4)."""
    a = socket.inet_aton(addr)
    want = "%08X:%04X" % (int.from_bytes(a, "little"), port)
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            if p[2] == want and p[3] == "01":
                n += 1
    return n


def check_answers(d, names, what):
    """Query all names at once (one thread each) and check every answer."""
    res = {}

    def one(n):
        res[n] = hl.query(d, n, timeout=4)[0]
    ts = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for n in names:
        m = res.get(n)
        h.check(m is not None and m.rcode() == dns.rcode.NOERROR and
                hl.answer_addrs(m) == EXPECT[n],
                "%s: %s: %s -> %s" % (d.label, what, n, m))


# ---- reuse and pipelining ----
local = start_local("LOCAL", UPPER_DOT + "#" + NAME)
check_answers(local, list(EXPECT), "misses at once over DoT")
h.check(established_to(ua, utp) == 1,
        "local -> upper: %d TLS connections, want 1 (reused)" % established_to(ua, utp))
check_answers(local, list(EXPECT), "the same again (cache)")
for n in ("mail.site", "mail-backup.site", "nx1.site", "nx2.site"):
    m, _ = hl.query(local, n, timeout=4)
    h.check(m is not None and m.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN),
            "local: %s over DoT: %s" % (n, hl.rcode_text(m)))
h.check(established_to(ua, utp) == 1,
        "local -> upper: %d TLS connections after more misses, want 1" %
        established_to(ua, utp))

# ---- the upper restarts: a new connection ----
h.stop(upper)
h.daemons.remove(upper)
upper = start_upper(port=upper.port)
h.check(tl.wait_listening(ua, utp), "upper (restarted): TLS port not listening")
time.sleep(0.3)
m, _ = hl.query(local, "lists.site", timeout=4)
if m is not None and m.rcode() == dns.rcode.SERVFAIL:
    # A miss sent just as the old connection died may fail once (the
    # resolver's failure, not a hang); the next one reconnects.
    m, _ = hl.query(local, "lists2.site", timeout=4)
h.check(m is not None and m.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN),
        "local: no answer over a new DoT connection after the upper restarted: %s" % m)
h.check("session resumed" not in upper.log_text(),
        "upper: a session resumed before any could be")

# ---- resumption: the upper closes the idle connection, the next miss
# reconnects with the ticket it was given ----
deadline = time.monotonic() + IDLE_MS / 1000 + 5
while established_to(ua, utp) > 0 and time.monotonic() < deadline:
    time.sleep(0.1)
h.check(established_to(ua, utp) == 0, "upper did not close the idle DoT connection")
m, _ = hl.query(local, "resume.site", timeout=4)
h.check(m is not None and m.rcode() == dns.rcode.NXDOMAIN,
        "local: no answer after reconnecting: %s" % m)
time.sleep(0.2)
h.check("session resumed" in upper.log_text(),
        "local -> upper: the second connection did not resume the TLS session")

# ---- failover from a dead DoT upstream ----
dead = "%s:%d" % (ua, tl.free_port(ua))
fo = start_local("FAILOVER", dead + "#" + NAME, UPPER_DOT + "#" + NAME)
t0 = time.monotonic()
m, _ = hl.query(fo, "webapp.site", timeout=4)
h.check(m is not None and hl.answer_addrs(m) == EXPECT["webapp.site."] and
        time.monotonic() - t0 < 3,
        "failover: dead DoT upstream first: %s after %.1f s" % (m, time.monotonic() - t0))


# ---- fail closed ----
def fail_closed(label, upstream, ca, reason):
    d = start_local(label, upstream, ca=ca)
    q = hl.make_query("webapp.site", "A", edns=True)

    def ask():
        raw = hl.udp_exchange(d.addr, d.port, q.to_wire(), timeout=4)
        return dns.message.from_wire(raw) if raw else None
    # counted as servfail.tls_auth, no other reason (issue 14)
    m = hl.servfail_step(h, os.path.join(h.tmp, label.lower() + ".sock"), label, ask,
                         "SERVFAIL", {"tls_auth": 1})
    h.check(m is not None and m.rcode() == dns.rcode.SERVFAIL and not m.answer,
            "%s: want SERVFAIL, got %s" % (label, m))
    ede = [o for o in (m.options if m else []) if o.otype == 15]
    # The first query meets the failed certificate: 23 Network Error
    # that says so (22 No Reachable Authority only once the upstream is
    # held dead, fail.c).
    h.check(len(ede) == 1 and ede[0].code == 23 and
            "TLS authentication failed" in (ede[0].text or ""),
            "%s: want one EDE 23 'upstream TLS authentication failed', got %r"
            % (label, [(o.code, o.text) for o in ede]))
    time.sleep(0.2)
    log = d.log_text()
    line = [x for x in log.splitlines() if "tls, auth name" in x]
    h.check(any(upstream.split("#")[0] in x and upstream.split("#")[1] in x and
                reason in x for x in line),
            "%s: no log line naming %s and '%s': %s" % (label, upstream, reason, line))
    return d


fail_closed("WRONGNAME", UPPER_DOT + "#wrong.test", pki.ca, "hostname mismatch")
fail_closed("WRONGCA", UPPER_DOT + "#" + NAME, other.ca, "certificate verify failed")

# ---- Unbound's DoT listener ----
ub = shutil.which("unbound") or "/usr/sbin/unbound"
if os.access(ub, os.X_OK):
    ud = os.path.join(h.tmp, "unbound")
    os.makedirs(ud)
    uba = hl.rand_addr()
    ubp = tl.free_port(uba)
    conf = os.path.join(ud, "unbound.conf")
    with open(conf, "w") as f:
        f.write("""server:
    interface: %(a)s@%(p)d
    tls-port: %(p)d
    tls-service-key: "%(k)s"
    tls-service-pem: "%(c)s"
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "%(d)s"
    pidfile: "%(d)s/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    local-zone: "example." static
    local-data: "webapp.example. 300 IN A 192.0.2.99"
remote-control:
    control-enable: no
""" % {"a": uba, "p": ubp, "k": key, "c": cert, "d": ud})
    with open(os.path.join(ud, "unbound.log"), "wb") as lf:
        proc = subprocess.Popen([ub, "-d", "-c", conf], stdout=lf, stderr=subprocess.STDOUT)
    h.children.append(proc)
    if not tl.wait_listening(uba, ubp):
        h.check(False, "unbound did not start: %s" %
                open(os.path.join(ud, "unbound.log")).read()[-2000:])
    else:
        ul = start_local("TO_UNBOUND", "%s:%d#%s" % (uba, ubp, NAME))
        for n in range(3):
            m, _ = hl.query(ul, "webapp.example", timeout=4)
            h.check(m is not None and hl.answer_addrs(m) == {"192.0.2.99"},
                    "local -> unbound DoT: %s" % m)
            m, _ = hl.query(ul, "nx%d.example" % n, timeout=4)
            h.check(m is not None and m.rcode() == dns.rcode.NXDOMAIN,
                    "local -> unbound DoT, NXDOMAIN: %s" % m)
        h.check(established_to(uba, ubp) == 1,
                "local -> unbound: %d TLS connections, want 1" % established_to(uba, ubp))
    proc.terminate()
    proc.wait()
else:
    h.skip("unbound not installed")

for d in list(h.daemons):
    h.stop(d)
h.finish()
