#!/usr/bin/python3
"""sd_notify and signals (issue 15, systemd units; issue 14, SIGHUP).

Both daemons are started with NOTIFY_SOCKET naming a datagram socket this
test owns, as systemd would for a Type=notify unit. Each must send
READY=1 once it serves; on SIGHUP (ExecReload=kill -HUP) RELOADING=1 with
MONOTONIC_USEC, a log line, then READY=1 again, and it must keep serving
(SIGHUP used to kill both with status 129); on SIGTERM STOPPING=1, then
exit 0. Every message must come from the daemon's own PID (systemd only
accepts the main PID's).
"""
import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_notify")


class Notify:
    """The socket systemd would listen on: messages with the sender's PID
    (SO_PASSCRED, as systemd checks it)."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        h.closers.append(self.s.close)

    def recv(self, timeout):
        """(pid, message) or (None, None) after timeout seconds."""
        self.s.settimeout(timeout)
        try:
            data, anc, _, _ = self.s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None, None
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        return pid, data.decode()

    def expect(self, d, what, timeout=10.0):
        """The next message from d must hold the line WHAT (e.g. READY=1)."""
        pid, msg = self.recv(timeout)
        if msg is None:
            return h.check(False, "%s: no %s within %.0f s" % (d.label, what, timeout))
        h.check(pid == d.pid, "%s: %s came from pid %s, not %s" % (d.label, msg, pid, d.pid))
        return h.check(what in msg.split("\n"),
                       "%s: expected %s, got %r" % (d.label, what, msg)) and msg


def answers(d, name, want):
    try:
        m, _ = hl.query(d, name, timeout=3.0)
    except Exception as e:  # noqa: BLE001
        return h.check(False, "%s: %s: %s" % (d.label, name, e))
    return h.check(want in hl.answer_addrs(m), "%s: %s gave %s" %
                   (d.label, name, hl.answer_addrs(m)))


upper_db = os.path.join(h.tmp, "upper")
h.zone_load(upper_db, os.path.join(hl.ZONES, "upper", "root.zone"),
            os.path.join(hl.ZONES, "upper", "site.zone"))

# The local tier's upstream, started without NOTIFY_SOCKET.
up = h.start_upper("UPSTREAM", upper_db, "--threads", "1")

for tier in ("upper", "local"):
    n = Notify(os.path.join(h.tmp, tier + ".notify"))
    os.environ["NOTIFY_SOCKET"] = n.path
    if tier == "upper":
        d = h.start_upper("UPPER", upper_db, "--threads", "2")
    else:
        d = h.start_local("LOCAL", os.path.join(h.tmp, "local"),
                          ["%s:%d" % (up.addr, up.port)], "--threads", "2")
    del os.environ["NOTIFY_SOCKET"]

    # READY=1 once it serves (start() has waited for its TCP port).
    n.expect(d, "READY=1")
    answers(d, "webapp.site", "192.0.2.10")

    # Two reloads: each RELOADING=1 (with its time) then READY=1, logged;
    # the daemon lives and answers.
    for i in range(2):
        os.kill(d.pid, signal.SIGHUP)
        msg = n.expect(d, "RELOADING=1")
        if msg:
            h.check(any(l.startswith("MONOTONIC_USEC=") for l in msg.split("\n")),
                    "%s: RELOADING=1 without MONOTONIC_USEC: %r" % (d.label, msg))
        n.expect(d, "READY=1")
        h.check(d.alive(), "%s died on SIGHUP (status %s)" % (d.label, d.proc.poll()))
        answers(d, "webapp.site", "192.0.2.10")
    log = d.log_text()
    h.check(log.count("SIGHUP: reloading") == 2,
            "%s: SIGHUP not logged twice:\n%s" % (d.label, log))
    h.check(log.count("reloaded") == 2, "%s: reload end not logged" % d.label)
    if tier == "upper":
        h.check("holds 2 zones" in log, "upper: zones not counted on SIGHUP")
    else:
        h.check("cached answer" in log, "local: store not counted on SIGHUP")

    # SIGTERM: STOPPING=1, then a clean exit.
    os.kill(d.pid, signal.SIGTERM)
    n.expect(d, "STOPPING=1")
    try:
        rc = d.proc.wait(timeout=15)
    except Exception:  # noqa: BLE001
        rc = None
    h.check(rc == 0, "%s exited %s after SIGTERM" % (d.label, rc))
    h.daemons.remove(d)  # stopped and checked here

# Without NOTIFY_SOCKET nothing is sent and nothing fails (run by hand).
d = h.start_upper("PLAIN", upper_db)
os.kill(d.pid, signal.SIGHUP)
time.sleep(0.3)
h.check(d.alive(), "PLAIN died on SIGHUP without NOTIFY_SOCKET")
h.stop(d)
h.stop(up)
h.finish()
