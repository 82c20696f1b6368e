#!/usr/bin/python3
"""dnstap messages dropped when the collector stalls, counted per tier
(issues 14): a Frame Streams collector on a Unix socket that takes the
handshake and then stops reading. A burst of queries fills the socket and
the daemon's queues; what cannot be queued is dropped (the answers are not
held back) and counted in tierdns-control stats as dnstap.dropped. Then the
collector reads everything and the daemon is stopped: the frames received
plus the frames counted as dropped are exactly the messages the daemon had
to log (upper: AUTH_QUERY and AUTH_RESPONSE per query; local: CLIENT_QUERY
and CLIENT_RESPONSE per query, FORWARDER_QUERY and FORWARDER_RESPONSE per
upstream attempt)."""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_dnstap_drops")
CT = b"protobuf:dnstap.Dnstap"
ACCEPT, START, STOP, READY, FINISH = 1, 2, 3, 4, 5
BURST = 3000


def control(ctype):
    body = struct.pack(">I", ctype)
    if ctype == ACCEPT:
        body += struct.pack(">II", 1, len(CT)) + CT
    return struct.pack(">II", 0, len(body)) + body


class Collector:
    """Accepts one writer, answers READY with ACCEPT, then reads nothing
    until drain() is called; then counts data frames until STOP, answered
    with FINISH."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.s.bind(path)
        self.s.listen(1)
        self.started = threading.Event()
        self.go = threading.Event()
        self.done = threading.Event()
        self.frames = 0
        self.error = None
        threading.Thread(target=self._run, daemon=True).start()

    def _frame(self, c):
        """(None, data) for a data frame, (type, b"") for a control frame,
        None at EOF."""
        hdr = hl.recv_exact(c, 4)
        if hdr is None:
            return None
        n = struct.unpack(">I", hdr)[0]
        if n > 0:
            return None, hl.recv_exact(c, n)
        n = struct.unpack(">I", hl.recv_exact(c, 4))[0]
        body = hl.recv_exact(c, n)
        return struct.unpack(">I", body[:4])[0], b""

    def _run(self):
        try:
            c, _ = self.s.accept()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            f = self._frame(c)
            if f is None or f[0] != READY:
                raise RuntimeError("no READY frame: %r" % (f,))
            c.sendall(control(ACCEPT))
            f = self._frame(c)
            if f is None or f[0] != START:
                raise RuntimeError("no START frame: %r" % (f,))
            self.started.set()
            self.go.wait()
            while True:
                f = self._frame(c)
                if f is None:
                    break
                if f[0] is None:
                    self.frames += 1
                elif f[0] == STOP:
                    c.sendall(control(FINISH))
                    break
            c.close()
        except Exception as e:  # reported by the test
            self.error = e
        self.done.set()


def burst(d, n):
    """n queries for one cached or authoritative name from one socket,
    paced so the daemon's socket does not overflow; replies drained."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((hl.rand_addr(), 0))
    s.setblocking(False)
    got = 0
    for i in range(n):
        s.sendto(hl.make_query("webapp.site.", qid=i & 0xffff).to_wire(), (d.addr, d.port))
        if i % 50 == 49:
            time.sleep(0.005)
            while True:
                try:
                    s.recv(65535)
                    got += 1
                except BlockingIOError:
                    break
    end = hl.now() + 1.0
    while hl.now() < end:
        try:
            s.recv(65535)
            got += 1
        except BlockingIOError:
            time.sleep(0.02)
    s.close()
    return got


def run(tier, start, expected):
    path = os.path.join(h.tmp, tier + ".tap")
    sock = os.path.join(h.tmp, tier + ".sock")
    col = Collector(path)
    d = start(sock, path)
    h.check(col.started.wait(10), "%s: the dnstap writer connected" % tier)
    answered = burst(d, BURST)
    st = hl.control_stats(sock)
    dropped = st.get("dnstap.dropped")
    h.check(answered >= BURST * 0.95,
            "%s: answers go out while dnstap stalls: %d of %d" % (tier, answered, BURST))
    h.check(dropped is not None and dropped > 0,
            "%s: stats count dropped dnstap messages: %s" % (tier, dropped))
    col.go.set()
    h.stop(d)
    h.check(col.done.wait(20) and col.error is None,
            "%s: the collector read to the end: %s" % (tier, col.error))
    want = expected(st)
    h.log("%s: %d frames received, %s dropped, %d logged" % (tier, col.frames, dropped, want))
    h.check(col.frames + (dropped or 0) == want,
            "%s: received %d + dropped %s = the %d messages logged"
            % (tier, col.frames, dropped, want))


db = os.path.join(h.tmp, "upper")
h.zone_load(db, os.path.join(hl.ZONES, "upper", "site.zone"))
run("upper", lambda sock, tap: h.start_upper("UPPER", db, "--threads", "1", "--control", sock,
                                             "--dnstap-socket", tap),
    lambda st: 2 * (st["queries.udp"] + st["queries.tcp"]))

up = h.start_upper("UPSTREAM", db, "--threads", "1")
run("local", lambda sock, tap: h.start_local("LOCAL", os.path.join(h.tmp, "local"),
                                             ["%s:%d" % (up.addr, up.port)], "--threads", "1",
                                             "--control", sock, "--dnstap-socket", tap),
    lambda st: 2 * (st["queries.udp"] + st["queries.tcp"]) + 2 * st["upstream.sent"])
h.stop(up)
h.finish()
