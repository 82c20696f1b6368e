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
    answered; the first query on it asks for the upper's keepalive (RFC
    7828), whose answer gives the upper's --tcp-idle: the local, with its
    own --upstream-idle longer (the default 10 s), closes the idle
    connection after 7/8 of the upper's, before the upper does, cleanly
    (close_notify, FINs both ways: TIME_WAIT, no reset); the next
    miss reconnects resuming the TLS session (the upper logs it);
  - a local with --upstream-idle 300 closes its idle connection itself
    after 300 ms (long before the upper's idle timeout), and its next
    miss reconnects, resumed;
  - a dead first DoT upstream fails over to the second within 3 s;
  - a stalled connection (a sole DoT upstream that accepted TCP and never
    answers the handshake) is given up after an attempt on it waited in
    vain, and a following miss opens a new connection and is answered,
    though misses keep coming (the idle timer alone would not close a busy
    connection);
  - the wrong authentication name, and a certificate from another CA,
    fail closed: SERVFAIL with an Extended DNS Error, and a log line
    naming the upstream, the name and the reason;
  - local -> Unbound's DoT listener (tls-service-key/pem, tls-port), with
    edns-tcp-keepalive: the local closes the idle connection after 7/8 of
    Unbound's keepalive timeout.
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


IDLE_MS = 4000  # the upper's --tcp-idle, and so the keepalive it gives


def start_upper(port=None, c=cert, k=key):
    return h.start_upper("UPPER", udb, "--tls-listen", "%s:%d" % (ua, utp),
                         "--tls-cert", c, "--tls-key", k, "-t", "1", "-v",
                         "--tcp-idle", str(IDLE_MS), addr=ua, port=port)


upper = start_upper()
h.check(tl.wait_listening(ua, utp), "upper: TLS port not listening")
UPPER_DOT = "%s:%d" % (ua, utp)


def start_local(label, *upstreams, ca=pki.ca):
    args = ["--db", os.path.join(h.tmp, label.lower()), "-t", "1", "--tls-ca", ca, "-v",
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


def tcp_table():
    """{(local, remote): state} of the IPv4 TCP sockets (/proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        return {(p[1], p[2]): p[3] for p in (x.split() for x in f.readlines()[1:])}


UPPER_HEX = "%08X:%04X" % (int.from_bytes(socket.inet_aton(ua), "little"), utp)


def new_conn(before):
    """The (client, upper) key of the one connection to the upper's TLS
    port that is not in the table before, or None."""
    new = [k for k in tcp_table() if k[1] == UPPER_HEX and k not in before]
    return new[0] if len(new) == 1 else None


def idle_closes(d):
    """The local's log lines (-v) saying it closed an idle DoT connection."""
    return [x for x in d.log_text().splitlines() if "(tls): idle for" in x]


TIME_WAIT = "06"


def time_wait(key):
    """One side of the connection key is in TIME_WAIT: it ended with a FIN
    each way (a reset leaves no trace). Which side depends on whose FIN
    went first: the upper answers the local's close_notify with its own
    and its FIN, which can overtake the local's FIN."""
    t = tcp_table()
    return TIME_WAIT in (t.get(key), t.get((key[1], key[0])))


def wait_idle_close(d, before, key, seconds):
    """Wait up to seconds for the local d to log one more idle close than
    the before lines, then up to 2 s for the connection key to end in
    TIME_WAIT: (the new line or None, seconds waited for it, whether it
    ended cleanly)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        lines = idle_closes(d)
        if len(lines) > len(before):
            waited = time.monotonic() - t0
            t1 = time.monotonic()
            while not time_wait(key) and time.monotonic() - t1 < 2:
                time.sleep(0.02)
            return lines[-1], waited, time_wait(key)
        time.sleep(0.02)
    return None, time.monotonic() - t0, time_wait(key)


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
before = set(tcp_table())
m, _ = hl.query(local, "lists.site", timeout=4)
if m is not None and m.rcode() == dns.rcode.SERVFAIL:
    # A miss sent just as the old connection died may fail once (the
    # resolver's failure, not a hang); the next one reconnects.
    m, _ = hl.query(local, "lists2.site", timeout=4)
h.check(m is not None and m.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN),
        "local: no answer over a new DoT connection after the upper restarted: %s" % m)
h.check("session resumed" not in upper.log_text(),
        "upper: a session resumed before any could be")
conn = new_conn(before)
h.check(conn is not None, "local -> upper: no new DoT connection after the restart")

# ---- the upper's keepalive (RFC 7828) is shorter than the local's
# --upstream-idle (10 s): the local closes the idle connection first,
# at 7/8 of it; the next miss reconnects with the ticket it was given ----
line, waited, clean = wait_idle_close(local, idle_closes(local), conn, IDLE_MS / 1000 + 5)
h.check(line is not None and "idle for %d ms, closed" % (IDLE_MS * 7 // 8) in line and
        1.0 <= waited < IDLE_MS / 1000 and clean,
        "idle DoT connection with the upper's keepalive %d ms: want the local to close "
        "it after %d ms, cleanly, got %r after %.2f s (TIME_WAIT: %s)" %
        (IDLE_MS, IDLE_MS * 7 // 8, line, waited, clean))
m, _ = hl.query(local, "resume.site", timeout=4)
h.check(m is not None and m.rcode() == dns.rcode.NXDOMAIN,
        "local: no answer after reconnecting: %s" % m)
time.sleep(0.2)
h.check("session resumed" in upper.log_text(),
        "local -> upper: the second connection did not resume the TLS session")

# ---- --upstream-idle shorter than the upper's keepalive: the local
# closes after its own idle time, and the next miss reconnects, resumed ----
short = h.start("SHORTIDLE", hl.LOCAL_BIN,
                ["--db", os.path.join(h.tmp, "shortidle"), "-t", "1", "--tls-ca", pki.ca, "-v",
                 "--upstream-tls", UPPER_DOT + "#" + NAME, "--upstream-idle", "300"])
for rnd in range(2):
    before = set(tcp_table())
    resumed = upper.log_text().count("session resumed")
    m, _ = hl.query(short, "webapp.site" if rnd == 0 else "www.site", timeout=4)
    h.check(m is not None and hl.answer_addrs(m) == EXPECT["webapp.site."],
            "--upstream-idle 300, query %d: %s" % (rnd, m))
    conn = new_conn(before)
    h.check(conn is not None, "--upstream-idle 300, query %d: no new DoT connection" % rnd)
    line, waited, clean = wait_idle_close(short, idle_closes(short), conn,
                                          IDLE_MS / 1000 + 5)
    # Counted from the answer's arrival here, so a little under 300 ms;
    # the upper would close it only after IDLE_MS.
    h.check(line is not None and "idle for 300 ms, closed" in line and
            0.2 <= waited < 2.0 and clean,
            "--upstream-idle 300, query %d: want the local to close the idle "
            "connection after 300 ms, cleanly, got %r after %.2f s (TIME_WAIT: %s)" %
            (rnd, line, waited, clean))
    if rnd == 1:
        time.sleep(0.2)
        h.check(upper.log_text().count("session resumed") > resumed,
                "--upstream-idle 300: the reconnection did not resume the TLS session")

# ---- failover from a dead DoT upstream ----
dead = "%s:%d" % (ua, tl.free_port(ua))
fo = start_local("FAILOVER", dead + "#" + NAME, UPPER_DOT + "#" + NAME)
t0 = time.monotonic()
m, _ = hl.query(fo, "webapp.site", timeout=4)
h.check(m is not None and hl.answer_addrs(m) == EXPECT["webapp.site."] and
        time.monotonic() - t0 < 3,
        "failover: dead DoT upstream first: %s after %.1f s" % (m, time.monotonic() - t0))


# ---- a stalled DoT connection is given up ----
def pipe(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for x in (src, dst):
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class StallThenForward(threading.Thread):
    """Holds its first connection open in silence (a TLS handshake that
    never finishes); forwards each later one to the upper's DoT port."""

    def __init__(self):
        super().__init__(daemon=True)
        self.port = tl.free_port(ua)
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind((ua, self.port))
        self.ls.listen(8)
        self.held = []
        self.accepted = 0

    def run(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted == 1:
                self.held.append(c)
                continue
            u = socket.create_connection((ua, utp))
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()


stall = StallThenForward()
stall.start()
sl = start_local("STALLED", "%s:%d#%s" % (ua, stall.port, NAME))
m, _ = hl.query(sl, "webapp.site", timeout=8)  # waits on the silent connection
h.check(stall.accepted == 1, "stalled: %d connections for the first miss" % stall.accepted)
# The next miss (a name not asked yet: a failed one is in the failure
# cache) goes over a new connection, at once.
m, _ = hl.query(sl, "api.site", timeout=4)
h.check(m is not None and hl.answer_addrs(m) == EXPECT["api.site."] and stall.accepted == 2,
        "stalled: the next miss got %s over %d connections" % (m, stall.accepted))
h.check("nothing received in the" in sl.log_text(),
        "stalled: no log line giving the connection up")

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
UB_KA_MS = 4000
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
    edns-tcp-keepalive: yes
    edns-tcp-keepalive-timeout: %(ka)d
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    module-config: "iterator"
    local-zone: "example." static
    local-data: "webapp.example. 300 IN A 192.0.2.99"
remote-control:
    control-enable: no
""" % {"a": uba, "p": ubp, "k": key, "c": cert, "d": ud, "ka": UB_KA_MS})
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
        # Unbound answers the first query's keepalive with its
        # edns-tcp-keepalive-timeout: the local closes the idle
        # connection after 7/8 of it, before Unbound would.
        t0 = time.monotonic()
        while not idle_closes(ul) and time.monotonic() - t0 < UB_KA_MS / 1000 + 5:
            time.sleep(0.05)
        lines = idle_closes(ul)
        h.check(len(lines) == 1 and "idle for %d ms, closed" % (UB_KA_MS * 7 // 8) in lines[0],
                "local -> unbound with edns-tcp-keepalive-timeout %d: want the local to "
                "close the idle connection after %d ms, got %r" %
                (UB_KA_MS, UB_KA_MS * 7 // 8, lines))
    proc.terminate()
    proc.wait()
else:
    h.skip("unbound not installed")

for d in list(h.daemons):
    h.stop(d)
h.finish()
