"""Shared machinery of the interop suite (tests/interop/test_*.py).

Each test starts real servers - NSD, Unbound and the tierdns daemons from
$TDNS_BUILD - on 127.0.0.1 with random free ports, in one temporary
directory, and stops every process it started by PID when it exits, passed
or failed (atexit plus SIGTERM/SIGINT handlers). Logs of all processes are
printed when a test fails.

What lives here:
  Env                 temp dir, process bookkeeping, cleanup, failure output;
                      start_nsd / start_upper / start_local / start_unbound
  make_queries(seed)  the generated query set (every test name x every type)
  edge_queries()      protocol edge cases built byte by byte
  pipelined_queries() a sample for one pipelined TCP connection
  Asker               one query over UDP or TCP (dnspython), raw UDP bytes,
                      or a pipelined batch
  view(msg, ttl)      a comparable picture of a reply: rcode, flags,
                      question (case-exact), EDNS, each section as a set of
                      RRsets (owners lower-cased, rdata canonical)
  Diff                runs queries against two servers, applies the
                      deliberate-difference rules and known-bug tables,
                      prints every other difference and a summary
  rule_*              deliberate differences shared by the tests
"""

import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import struct
import sys
import tempfile
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

HERE = os.path.dirname(os.path.abspath(__file__))
ZONES_DIR = os.path.join(HERE, "zones")

# The zones of tests/interop/zones: (origin, file). Both NSD and
# tierdns-upper serve exactly these.
ZONES = [
    ("interop.", "interop.zone"),
    ("sub.interop.", "sub.zone"),
    ("2.0.192.in-addr.arpa.", "reverse.zone"),
]

# The DNSSEC variants the validator tests sign the zones with: NSEC with
# ECDSA P-256 (algorithm 13), NSEC3 (RFC 9276: 0 iterations, empty salt)
# with Ed25519 (algorithm 15); (name, ldns-keygen -a, ldns-signzone args).
DNSSEC_VARIANTS = [("nsec", "ECDSAP256SHA256", []), ("nsec3", "ED25519", ["-n", "-t", "0"])]

# deleg.interop. as its own unsigned zone (interop. delegates it without DS).
DELEG_ZONE = """$ORIGIN deleg.interop.
$TTL 300
@ SOA ns.deleg.interop. hostmaster.interop. 1 7200 900 1209600 300
@ NS ns
ns A 192.0.2.53
host A 192.0.2.54
"""

NSD_BIN = os.environ.get("TDNS_NSD", "/usr/sbin/nsd")
UNBOUND_BIN = os.environ.get("TDNS_UNBOUND", "/usr/sbin/unbound")

QUERY_TIMEOUT = 2.0
MAX_TIMEOUTS = 8  # give up early rather than run past the ctest budget


def build_dir():
    b = os.environ.get("TDNS_BUILD")
    if not b:
        src = os.path.dirname(os.path.dirname(HERE))
        b = os.path.join(src, "build")
    return b


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (the daemon binds it
    a moment later; a clash is retried by the starter)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            finally:
                u.close()
            return port
        finally:
            t.close()
    raise RuntimeError("no free port")


class Failure(Exception):
    pass


class Proc:
    def __init__(self, name, argv, log, popen):
        self.name = name
        self.argv = argv
        self.log = log
        self.popen = popen
        self.addr = "127.0.0.1"
        self.port = None

    @property
    def where(self):
        return (self.addr, self.port)

    def endpoint(self):
        return "%s:%d" % (self.addr, self.port)


class Env:
    """One test's temp dir and processes; cleaned up however the test ends."""

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="tdns-interop-%s." % name)
        self.procs = []
        self.build = build_dir()
        atexit.register(self.cleanup)
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, self._on_signal)
        os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    def _on_signal(self, signum, frame):
        self.cleanup()
        sys.exit(128 + signum)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def bin(self, name):
        p = os.path.join(self.build, name)
        if not os.access(p, os.X_OK):
            raise Failure("missing binary %s (build first)" % p)
        return p

    # -- processes -------------------------------------------------------

    def _spawn(self, name, argv, ready, conf=None, text=None, where=None):
        """Start argv on a free port and wait until ready(proc) is true; a
        daemon that exits at start (a port taken meanwhile) is retried on
        another port. "@PORT@" in argv, and in text (written to the file
        conf first, for the daemons configured by file), becomes the port.
        where: (addr, port) the daemon listens on instead (argv says so)."""
        log = self.path("%s.log" % name)
        for attempt in range(5):
            port = free_port()
            if conf is not None:
                with open(conf, "w") as f:
                    f.write(text.replace("@PORT@", str(port)))
            full = [a.replace("@PORT@", str(port)) for a in argv]
            with open(log, "ab") as lf:
                lf.write(("--- start: %s (port %d)\n" % (" ".join(full), port)).encode())
                lf.flush()
                popen = subprocess.Popen(full, stdout=lf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         start_new_session=True)
            p = Proc(name, full, log, popen)
            p.port = port
            if where is not None:
                p.addr, p.port = where
            self.procs.append(p)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if popen.poll() is not None:
                    break
                if ready(p):
                    return p
                time.sleep(0.1)
            if popen.poll() is None:
                raise Failure("%s did not answer on 127.0.0.1:%d within 15 s" % (name, port))
            self.procs.remove(p)
            self._kill_group(p)
            sys.stderr.write("%s exited at start (status %s), try %d\n"
                             % (name, popen.returncode, attempt + 1))
        raise Failure("%s would not start; log:\n%s" % (name, tail(log)))

    def _ready_dns(self, qname, qtype, rdclass="IN"):
        def ready(p):
            q = dns.message.make_query(qname, qtype, rdclass)
            try:
                dns.query.udp(q, p.addr, timeout=0.3, port=p.port)
                return True
            except (dns.exception.Timeout, OSError):
                return False
        return ready

    def stop(self, p, expect_clean=True):
        """SIGTERM p (and its process group) and wait; a tierdns daemon must
        exit 0 (a sanitizer report makes the status non-zero)."""
        if p.popen.poll() is None:
            try:
                os.kill(p.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.popen.pid, signal.SIGKILL)
                p.popen.wait()
                if expect_clean:
                    raise Failure("%s did not stop within 10 s of SIGTERM" % p.name)
        if p in self.procs:
            self.procs.remove(p)
        self._kill_group(p)
        if expect_clean and p.popen.returncode != 0:
            raise Failure("%s exited with status %s after SIGTERM; log:\n%s"
                          % (p.name, p.popen.returncode, tail(p.log)))

    @staticmethod
    def _kill_group(p):
        # NSD and Unbound fork helpers into the session we created for them.
        try:
            os.killpg(p.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def cleanup(self):
        for p in list(self.procs):
            if p.popen.poll() is None:
                try:
                    os.kill(p.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.popen.wait()
            self._kill_group(p)
        self.procs = []
        if self.tmp and os.path.isdir(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    def show_logs(self):
        for p in self.procs:
            sys.stderr.write("----- %s log (last 30 lines) -----\n%s\n" % (p.name, tail(p.log)))

    # -- the servers -------------------------------------------------------

    @staticmethod
    def _need(path, pkg):
        if not os.access(path, os.X_OK):
            raise Failure("%s is not installed (Debian package %s; tools/deps.sh test "
                          "installs it)" % (path, pkg))

    def start_nsd(self, zones=None):
        """NSD serving zones [(origin, path)], by default ZONES."""
        self._need(NSD_BIN, "nsd")
        d = self.path("nsd")
        os.makedirs(d, exist_ok=True)
        zones = zones or [(o, os.path.join(ZONES_DIR, f)) for o, f in ZONES]
        for _, f in zones:
            shutil.copy(f, d)
        conf = os.path.join(d, "nsd.conf")
        zones = "".join('zone:\n    name: "%s"\n    zonefile: "%s"\n'
                        % (o, os.path.basename(f)) for o, f in zones)
        # minimal-responses, as tierdns-upper answers (its auth.c): no NS
        # RRset in the authority section of positive answers, no addresses
        # for MX/SRV targets; glue in referrals. Rate limiting off: the test
        # sends hundreds of queries from one address. CHAOS identity on, to
        # be compared.
        text = """server:
    ip-address: 127.0.0.1@@PORT@
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "%(d)s"
    database: ""
    zonelistfile: "%(d)s/zone.list"
    xfrdfile: "%(d)s/xfrd.state"
    pidfile: "%(d)s/nsd.pid"
    logfile: "%(log)s"
    verbosity: 1
    server-count: 1
    minimal-responses: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
%(zones)s""" % {"d": d, "zones": zones, "log": self.path("nsd.log")}
        return self._spawn("nsd", [NSD_BIN, "-d", "-c", conf],
                           self._ready_dns("interop.", "SOA"), conf, text)

    def start_upper(self, zones=None, name="upper", where=None):
        """tierdns-upper serving zones [(origin, path)], by default ZONES;
        where: (addr, port) to listen on instead of 127.0.0.1 and a free
        port (port 53, where a referral's glue leads, needs root)."""
        db = self.path("%s-db" % name)
        files = [f for _, f in zones] if zones else \
            [os.path.join(ZONES_DIR, f) for _, f in ZONES]
        r = subprocess.run([self.bin("tierdns-zone"), "--db", db, "load"] + files,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise Failure("tierdns-zone load failed:\n%s" % r.stdout.decode(errors="replace"))
        # --full-any: ANY over UDP with every RRset, as NSD does over TCP,
        # so that rule_any_subset can compare it with NSD's one RRset (the
        # default, one RRset by RFC 8482, is tests/e2e/test_minimal_any.sh's).
        addr, port = where if where is not None else ("127.0.0.1", "@PORT@")
        return self._spawn(name, [self.bin("tierdns-upper"), "--db", db, "--full-any",
                                  "--listen", addr, "--port", str(port)],
                           self._ready_dns(zones[0][0] if zones else "interop.", "SOA"),
                           where=where)

    def start_local(self, name, upstream, db=None, upstream_endpoint=None):
        """tierdns-local forwarding to upstream (a Proc) or to
        upstream_endpoint ("ADDR:PORT"), with a fresh store or db."""
        db = db or self.path("%s-db" % name)
        up = upstream_endpoint or upstream.endpoint()
        # 2.0.192.in-addr.arpa. is one of the reverse zones tierdns-local
        # serves itself by default (RFC 6303), as Unbound does: turned off,
        # as start_unbound turns it off, so that it is asked upstream.
        return self._spawn(name, [self.bin("tierdns-local"), "--db", db,
                                  "--listen", "127.0.0.1", "--port", "@PORT@",
                                  "--upstream", up,
                                  "--local-zone", "2.0.192.in-addr.arpa. nodefault"],
                           self._ready_tcp)

    @staticmethod
    def _ready_tcp(p):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.3)
        try:
            s.connect(p.where)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def start_unbound(self, name, forward=None, stubs=None, qname_min=False,
                      trust_anchors=None, modules=None, extra=""):
        """Unbound as a plain iterator (no validator, no trust anchor),
        either forwarding "." to forward (a Proc) or with stub-zones
        [(zone, Proc)]; qname_min turns on QNAME minimisation (RFC 9156).
        trust_anchors (DS or DNSKEY lines): a validating Unbound with
        those anchors instead. modules: its module-config instead;
        extra: more configuration text, after the rest."""
        self._need(UNBOUND_BIN, "unbound")
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        conf = os.path.join(d, "unbound.conf")
        # The test zones sit under names Unbound serves itself by default
        # (test., and 2.0.192.in-addr.arpa. among the AS112/RFC 5737
        # reverse zones): turn those defaults off so queries go upstream.
        text = """server:
    interface: 127.0.0.1@@PORT@
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
    do-not-query-localhost: no
    qname-minimisation: %(qmin)s
    module-config: "%(modules)s"
    minimal-responses: yes
    rrset-roundrobin: no
    prefetch: no
    edns-buffer-size: 1232
    local-zone: "test." nodefault
    local-zone: "2.0.192.in-addr.arpa." nodefault
remote-control:
    control-enable: no
""" % {"d": d, "qmin": "yes" if qname_min else "no",
       "modules": modules or ("validator iterator" if trust_anchors else "iterator")}
        for a in trust_anchors or []:
            text += 'server:\n    trust-anchor: "%s"\n    val-log-level: 2\n' % a
        if forward is not None:
            text += 'forward-zone:\n    name: "."\n    forward-addr: 127.0.0.1@%d\n' % forward.port
        for zone, p in stubs or []:
            text += 'stub-zone:\n    name: "%s"\n    stub-addr: 127.0.0.1@%d\n' % (zone, p.port)
        text += extra
        return self._spawn(name, [UNBOUND_BIN, "-d", "-c", conf], self._ready_tcp,
                           conf, text)


def run_tool(argv, cwd):
    """Run a helper program in cwd; its stripped output, Failure if it fails."""
    r = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise Failure("%s failed:\n%s" % (" ".join(argv), r.stdout.decode(errors="replace")))
    return r.stdout.decode().strip()


def sign_zone(d, origin, path, alg, args=(), extra="", corrupt=None):
    """Sign the zone file path (with extra text appended) in directory d
    with a fresh KSK and ZSK of algorithm alg (ldns-keygen -a names) and
    ldns-signzone args (e.g. -n for NSEC3). corrupt: an owner name whose
    RRSIGs get one signature octet changed (a bogus zone). Keys live in d
    only (never in the tree). Returns (signed file, DS line of the KSK,
    KSK file base name)."""
    base = os.path.join(d, origin.rstrip(".") or "root")
    with open(path) as f:
        text = f.read()
    with open(base + ".zone", "w") as f:
        f.write(text + extra)
    ksk = run_tool(["ldns-keygen", "-a", alg, "-b", "2048", "-k", origin], d)
    zsk = run_tool(["ldns-keygen", "-a", alg, "-b", "1024", origin], d)
    run_tool(["ldns-signzone"] + list(args) + ["-o", origin, base + ".zone", ksk, zsk], d)
    with open(os.path.join(d, ksk + ".ds")) as f:
        ds = f.read().strip()
    signed = base + ".zone.signed"
    if corrupt is not None:
        out = []
        with open(signed) as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] == corrupt and len(fields) > 4 and fields[3] == "RRSIG":
                    sig = fields[-1]
                    fields[-1] = ("B" if sig[0] != "B" else "C") + sig[1:]
                    line = "\t".join(fields) + "\n"
                out.append(line)
        with open(signed, "w") as f:
            f.writelines(out)
    return signed, ds, ksk


def sign_interop(env, alg, args):
    """The interop zones signed for the validator tests, keys in
    env.path("keys"): sub.interop. with its DS in interop., and
    broken.interop. (an A record) with one signature octet changed; the
    unsigned deleg.interop. (DELEG_ZONE) written beside. Returns (signed
    interop., signed sub.interop., deleg zone file, DS line of interop.,
    its KSK's base name)."""
    d = env.path("keys")
    os.makedirs(d)
    z = {o: os.path.join(ZONES_DIR, f) for o, f in ZONES}
    sub, sub_ds, _ = sign_zone(d, "sub.interop.", z["sub.interop."], alg, args)
    parent, ds, ksk = sign_zone(
        d, "interop.", z["interop."], alg, args,
        "\n" + sub_ds + "\nbroken 300 IN A 192.0.2.66\n", corrupt="broken.interop.")
    deleg = env.path("deleg.zone")
    with open(deleg, "w") as f:
        f.write(DELEG_ZONE)
    return parent, sub, deleg, ds, ksk


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no log)"


# -- the query set --------------------------------------------------------

class Query:
    """One test query: name (as sent, case included), type, EDNS payload
    (None = no OPT), RD bit, transport."""

    def __init__(self, name, qtype, edns=None, rd=False, tcp=False, note="",
                 dnssec=False):
        self.name = name
        self.qtype = qtype
        self.edns = edns
        self.rd = rd
        self.tcp = tcp
        self.note = note
        self.dnssec = dnssec  # DO set (RFC 3225); needs edns

    def key(self):
        return "%s %s" % (self.name.lower(), self.qtype)

    def __str__(self):
        return "%s %s [%s%s%s%s]%s" % (
            self.name, self.qtype,
            "EDNS %d" % self.edns if self.edns is not None else "no EDNS",
            ", DO" if self.dnssec else "",
            ", RD" if self.rd else "",
            ", TCP" if self.tcp else ", UDP",
            " (%s)" % self.note if self.note else "")

    def tcp_copy(self):
        return Query(self.name, self.qtype, self.edns, self.rd, True,
                     (self.note + "; " if self.note else "") + "TCP retry of a TC answer",
                     self.dnssec)

    def message(self):
        m = dns.message.make_query(self.name, self.qtype, "IN",
                                   use_edns=0 if self.edns is not None else False,
                                   payload=self.edns or 1232,
                                   want_dnssec=self.dnssec)
        if not self.rd:
            m.flags &= ~dns.flags.RD
        return m


class EdgeQuery(Query):
    """A query built byte by byte (protocol edge cases: other classes and
    opcodes, EDNS versions and options, bad counts, packets that must get
    no reply). build() returns the wire bytes; sent over UDP only."""

    def __init__(self, label, build, timeout=QUERY_TIMEOUT):
        Query.__init__(self, label, "-", None, False, False, "protocol edge")
        self.label = label
        self.build = build
        self.timeout = timeout

    def key(self):
        return "edge:" + self.label

    def __str__(self):
        return "[edge] %s" % self.label

    def tcp_copy(self):
        return None


def _msg(name="www.interop.", qtype="A", rdclass="IN", edns=False, **kw):
    m = dns.message.make_query(name, qtype, rdclass, use_edns=edns, **kw)
    m.flags &= ~dns.flags.RD
    m.id = 0x4242
    return m


def _wire(m):
    return m.to_wire()


def _with_opcode(op):
    def b():
        m = _msg()
        m.set_opcode(op)
        return m.to_wire()
    return b


def _with_flags(bits, edns=False):
    def b():
        m = _msg("www.interop.", "A", edns=0 if edns else False)
        m.flags |= bits
        return m.to_wire()
    return b


def _opt_rr(owner=b"\x00", payload=1232, ttl=0, rdata=b""):
    return owner + struct.pack("!HHIH", 41, payload, ttl, len(rdata)) + rdata


def _raw(qdcount=1, arcount=0, tail=b"", flags=0, questions=None):
    """Header + questions (default one www.interop. A IN) + tail."""
    qs = questions if questions is not None else [_qwire("www.interop.", 1)] * qdcount
    return struct.pack("!HHHHHH", 0x4242, flags, len(qs), 0, 0, arcount) + b"".join(qs) + tail


def _qwire(name, qtype, qclass=1):
    return dns.name.from_text(name).to_wire() + struct.pack("!HH", qtype, qclass)


def edge_queries(rd=False):
    """The protocol edge cases, each compared like any other query; rd sets
    the RD bit in every one."""
    nsid = dns.edns.GenericOption(3, b"")
    unknown_opt = dns.edns.GenericOption(65001, b"\x01\x02\x03")
    ixfr = _msg("interop.", "IXFR")
    ixfr.authority.append(dns.rrset.from_text(
        "interop.", 0, "IN", "SOA", "ns1.interop. hostmaster.interop. 1 1 1 1 1"))
    out = [
        EdgeQuery("CH TXT version.bind", lambda: _wire(_msg("version.bind.", "TXT", "CH"))),
        EdgeQuery("CH TXT version.server", lambda: _wire(_msg("version.server.", "TXT", "CH"))),
        EdgeQuery("CH TXT id.server", lambda: _wire(_msg("id.server.", "TXT", "CH"))),
        EdgeQuery("CH TXT hostname.bind", lambda: _wire(_msg("hostname.bind.", "TXT", "CH"))),
        EdgeQuery("CH A www.interop.", lambda: _wire(_msg("www.interop.", "A", "CH"))),
        EdgeQuery("HS A www.interop.", lambda: _wire(_msg("www.interop.", "A", "HS"))),
        EdgeQuery("class NONE A www.interop.", lambda: _wire(_msg("www.interop.", "A", "NONE"))),
        EdgeQuery("class 42 A www.interop.", lambda: _wire(_msg("www.interop.", "A", 42))),
        EdgeQuery("AXFR interop. over UDP", lambda: _wire(_msg("interop.", "AXFR"))),
        EdgeQuery("IXFR interop. over UDP (RFC 1995 SOA in authority)", lambda: _wire(ixfr)),
        EdgeQuery("MAILB www.interop.", lambda: _wire(_msg("www.interop.", "MAILB"))),
        EdgeQuery("MAILA www.interop.", lambda: _wire(_msg("www.interop.", "MAILA"))),
        EdgeQuery("EDNS version 1 (BADVERS)", lambda: _wire(_msg(edns=1))),
        EdgeQuery("EDNS version 1, missing name", lambda: _wire(_msg("nothing.interop.", edns=1))),
        EdgeQuery("EDNS DO bit", lambda: _wire(_msg(edns=0, ednsflags=dns.flags.DO))),
        EdgeQuery("EDNS NSID request (not configured)",
                  lambda: _wire(_msg(edns=0, options=[nsid]))),
        EdgeQuery("EDNS unknown option 65001",
                  lambda: _wire(_msg(edns=0, options=[unknown_opt]))),
        EdgeQuery("EDNS payload 100 (treated as 512), big TXT",
                  lambda: _wire(_msg("big.interop.", "TXT", edns=0, payload=100))),
        EdgeQuery("EDNS payload 512, big TXT",
                  lambda: _wire(_msg("big.interop.", "TXT", edns=0, payload=512))),
        EdgeQuery("two OPT records (FORMERR)",
                  lambda: _raw(arcount=2, tail=_opt_rr() + _opt_rr())),
        EdgeQuery("OPT owned by a.  (FORMERR)",
                  lambda: _raw(arcount=1, tail=_opt_rr(owner=b"\x01a\x00"))),
        EdgeQuery("QDCOUNT 0 (FORMERR)", lambda: _raw(qdcount=0)),
        EdgeQuery("QDCOUNT 2 (FORMERR)", lambda: _raw(qdcount=2)),
        EdgeQuery("opcode IQUERY (NOTIMP)", _with_opcode(1)),
        EdgeQuery("opcode STATUS (NOTIMP)", _with_opcode(2)),
        EdgeQuery("opcode 3 (unassigned, NOTIMP)", _with_opcode(3)),
        EdgeQuery("opcode UPDATE", _with_opcode(5)),
        EdgeQuery("opcode 15", _with_opcode(15)),
        EdgeQuery("AD bit in query", _with_flags(dns.flags.AD)),
        EdgeQuery("CD bit in query", _with_flags(dns.flags.CD)),
        EdgeQuery("Z bit in query", _with_flags(0x0040)),
        EdgeQuery("TC bit in query", _with_flags(dns.flags.TC)),
        EdgeQuery("QR=1 (no reply)", _with_flags(dns.flags.QR), timeout=0.5),
        EdgeQuery("11-byte packet (no reply)", lambda: _raw()[:11], timeout=0.5),
        EdgeQuery("question cut short (FORMERR or no reply)", lambda: _raw()[:20], timeout=0.5),
    ]
    for q in out:
        q.rd = rd
    return out


# Names of the test zones by kind; every one is asked every type below.
NAMES = [
    # existing data
    ("interop.", "apex"),
    ("www.interop.", "A/AAAA/TXT"),
    ("ns1.interop.", "NS host"),
    ("mail.interop.", "MX host"),
    ("rr.interop.", "5 A records"),
    ("mixed.interop.", "owner stored in mixed case"),
    ("zero.interop.", "TTL 0"),
    ("dot\\.in\\.label.interop.", "escaped dots in a label"),
    ("\\200\\255bin.interop.", "non-ASCII label octets"),
    ("\\200\\255BIN.interop.", "non-ASCII label octets, ASCII upper case"),
    ("a-63-octet-label-" + "a" * 46 + ".interop.", "63-octet label"),
    ("_sip._tcp.interop.", "SRV"),
    ("_ldap._tcp.interop.", "SRV"),
    ("unknown.interop.", "TYPE65534 (RFC 3597)"),
    ("big.interop.", "TXT > 512 bytes"),
    ("huge.interop.", "TXT > 1232 bytes"),
    # CNAMEs
    ("alias.interop.", "CNAME"),
    ("chain1.interop.", "CNAME chain of 3"),
    ("loop1.interop.", "CNAME loop"),
    ("dangling.interop.", "CNAME to NXDOMAIN"),
    ("outside.interop.", "CNAME out of served zones"),
    ("tosub.interop.", "CNAME into child zone"),
    ("todeleg.interop.", "CNAME below a delegation"),
    ("towild.interop.", "CNAME to wildcard"),
    ("tomx.interop.", "CNAME to apex"),
    # wildcards
    ("foo.wild.interop.", "wildcard match"),
    ("a.b.wild.interop.", "wildcard match, 2 labels"),
    ("explicit.wild.interop.", "existing name blocks wildcard"),
    ("x.explicit.wild.interop.", "below existing name: NXDOMAIN"),
    ("wild.interop.", "ENT parent of wildcard"),
    ("*.wild.interop.", "the wildcard itself"),
    ("q.wcname.interop.", "wildcard CNAME"),
    ("x.deep.wcd.interop.", "wildcard MX under ENT"),
    ("deep.wcd.interop.", "ENT above wildcard"),
    # empty non-terminals
    ("c.ent.interop.", "ENT"),
    ("b.c.ent.interop.", "ENT"),
    ("a.b.c.ent.interop.", "below ENTs"),
    ("x.c.ent.interop.", "missing under ENT"),
    # delegations
    ("deleg.interop.", "delegation point"),
    ("host.deleg.interop.", "below delegation"),
    ("a.b.deleg.interop.", "deep below delegation"),
    ("ns.deleg.interop.", "glue name"),
    ("deleg2.interop.", "delegation, in-zone NS host"),
    ("x.deleg2.interop.", "below delegation 2"),
    # child zone
    ("sub.interop.", "child apex"),
    ("host.sub.interop.", "child data"),
    ("back.sub.interop.", "child CNAME to parent"),
    ("ns1.sub.interop.", "child NS host"),
    ("nope.sub.interop.", "missing in child"),
    # reverse zone
    ("2.0.192.in-addr.arpa.", "reverse apex"),
    ("10.2.0.192.in-addr.arpa.", "PTR"),
    ("25.2.0.192.in-addr.arpa.", "2 PTR"),
    ("99.2.0.192.in-addr.arpa.", "missing PTR"),
    # missing names
    ("nothing.interop.", "NXDOMAIN"),
    ("a.b.nothing.interop.", "NXDOMAIN deep"),
    ("www.elsewhere.test.", "outside every zone"),
    ("interop.test.", "outside every zone"),
]

TYPES = ["A", "AAAA", "NS", "SOA", "CNAME", "MX", "TXT", "PTR", "SRV", "CAA",
         "TYPE65534", "ANY", "DS", "NAPTR"]

EDNS_CHOICES = [None, None, 1232, 4096, 512]


def random_case(rng, name):
    return "".join(c.upper() if c.isalpha() and rng.random() < 0.5 else c for c in name)


def make_queries(seed, names=NAMES, types=TYPES, rd=None):
    """Every name x every type, each with random case (half the time), a
    random EDNS choice and RD bit, over TCP one time in ten (rd=True: always RD, as a stub resolver
    asks a recursive one); then the large answers once more without EDNS
    (they must come back TC) and with EDNS 4096, and over TCP."""
    rng = random.Random(seed)
    out = []
    for name, note in names:
        for t in types:
            n = random_case(rng, name) if rng.random() < 0.5 else name
            r = rng.random() < 0.5 if rd is None else rd
            out.append(Query(n, t, rng.choice(EDNS_CHOICES), r, rng.random() < 0.1, note))
    for name in ("big.interop.", "huge.interop.", "interop.", "rr.interop."):
        for t in ("TXT", "ANY"):
            r = bool(rd)
            out.append(Query(name, t, None, r, False, "large answer without EDNS"))
            out.append(Query(random_case(rng, name), t, 4096, True, False, "large answer, EDNS 4096"))
            out.append(Query(name, t, None, r, True, "large answer over TCP"))
    return out


def pipelined_queries(seed, n=60, rd=None):
    """n queries drawn from the generated set, plus the largest answer,
    marked for one pipelined TCP connection."""
    rng = random.Random(seed)
    pool = [q for q in make_queries(seed, rd=rd)]
    out = rng.sample(pool, n) + [Query("huge.interop.", "TXT", None, bool(rd), True)]
    for q in out:
        q.tcp = True
        q.note = (q.note + "; " if q.note else "") + "pipelined on one TCP connection"
    return out


# -- asking and looking at answers ---------------------------------------

class Asker:
    """Sends queries; counts timeouts so a dead server fails fast."""

    def __init__(self):
        self.timeouts = 0

    def ask(self, p, q):
        if isinstance(q, EdgeQuery):
            return self.ask_raw(p, q)
        m = q.message()
        try:
            if q.tcp:
                r = dns.query.tcp(m, p.addr, timeout=QUERY_TIMEOUT, port=p.port)
            else:
                r = dns.query.udp(m, p.addr, timeout=QUERY_TIMEOUT, port=p.port,
                                  raise_on_truncation=False)
        except dns.exception.Timeout:
            self.timeouts += 1
            if self.timeouts > MAX_TIMEOUTS:
                raise Failure("more than %d queries timed out (last: %s to %s)"
                              % (MAX_TIMEOUTS, q, p.name))
            return None
        except dns.message.BadEDNS as e:
            return "unparsable reply: %s" % e
        except (dns.exception.DNSException, OSError, EOFError) as e:
            return "unparsable reply or error: %s: %s" % (type(e).__name__, e)
        return r


    def pipelined(self, p, queries):
        """Write every query (IDs 1..n) on one TCP connection, then read
        the answers in whatever order they come; returns them in query
        order (None for one that never came)."""
        msgs = []
        for n, q in enumerate(queries, 1):
            m = q.message()
            m.id = n
            msgs.append(m)
        got = {}
        s = socket.create_connection(p.where, timeout=QUERY_TIMEOUT)
        try:
            s.sendall(b"".join(struct.pack("!H", len(w)) + w
                               for w in (m.to_wire() for m in msgs)))
            buf = b""
            deadline = time.monotonic() + 3 * QUERY_TIMEOUT
            while len(got) < len(msgs) and time.monotonic() < deadline:
                try:
                    chunk = s.recv(65535)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                    n = struct.unpack("!H", buf[:2])[0]
                    wire, buf = buf[2:2 + n], buf[2 + n:]
                    try:
                        r = dns.message.from_wire(wire)
                        got[r.id] = r
                    except (dns.exception.DNSException, ValueError) as e:
                        if len(wire) >= 2:
                            got[struct.unpack("!H", wire[:2])[0]] = \
                                "unparsable reply: %s: %s" % (e, wire.hex())
        finally:
            s.close()
        out = []
        for n, (m, q) in enumerate(zip(msgs, queries), 1):
            r = got.get(n)
            if r is not None and not isinstance(r, str) and not m.is_response(r):
                r = "reply with ID %d does not answer its question: %s" % (n, r.question)
            out.append(r)
        return out

    def ask_raw(self, p, q):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.settimeout(q.timeout)
            s.connect(p.where)
            wire = bytearray(q.build())
            if q.rd and len(wire) > 2:
                wire[2] |= 0x01  # RD, as a stub asks a recursive server
            s.send(bytes(wire))
            try:
                data = s.recv(65535)
            except socket.timeout:
                if q.timeout >= QUERY_TIMEOUT:
                    self.timeouts += 1
                return None
        finally:
            s.close()
        try:
            return dns.message.from_wire(data)
        except (dns.exception.DNSException, ValueError) as e:
            if len(data) >= 12:
                return RawHeader(data, e)
            return "unparsable reply (%s): %s" % (e, data.hex())


class RawHeader:
    """A reply dnspython cannot parse as a whole (an unknown opcode, an
    UPDATE-shaped message, a FORMERR that echoes the malformed query's
    records): it is compared by its header only - rcode, opcode, flags."""

    def __init__(self, data, err):
        self.data = data
        self.err = err
        self.flags = struct.unpack("!H", data[2:4])[0]
        self.opcode = (self.flags >> 11) & 0xF
        self.rcode = self.flags & 0xF


FLAG_NAMES = ["QR", "AA", "TC", "RD", "RA", "AD", "CD"]


def flags_of(r):
    return {f: bool(r.flags & getattr(dns.flags, f)) for f in FLAG_NAMES}


class Rd:
    """One rdata, equal to another by its canonical form (RFC 4034 6.2:
    names in rdata lower-cased), shown as presentation text."""

    __slots__ = ("digest", "text")

    def __init__(self, rd):
        self.digest = rd.to_digestable(dns.name.root)
        self.text = rd.to_text()

    def __eq__(self, other):
        return isinstance(other, Rd) and self.digest == other.digest

    def __hash__(self):
        return hash(self.digest)

    def __lt__(self, other):
        return self.digest < other.digest

    def __repr__(self):
        return self.text


def rrset_key(rrset, ttl):
    owner = rrset.name.to_text().lower()
    rdatas = frozenset(Rd(rd) for rd in rrset)
    return (owner, dns.rdataclass.to_text(rrset.rdclass),
            dns.rdatatype.to_text(rrset.rdtype), rrset.ttl if ttl else None, rdatas)


def section_view(section, ttl):
    return frozenset(rrset_key(s, ttl) for s in section)


def view(r, ttl=True):
    """A comparable picture of reply r (None = no reply)."""
    if r is None:
        return {"reply": None}
    if isinstance(r, str):
        return {"reply": r}
    if isinstance(r, RawHeader):
        return {"rcode": dns.rcode.to_text(r.rcode), "opcode": _opcode_text(r.opcode),
                "flags": {f: bool(r.flags & getattr(dns.flags, f)) for f in FLAG_NAMES},
                "header_only": True}
    v = {
        "rcode": dns.rcode.to_text(r.rcode()),
        "opcode": dns.opcode.to_text(r.opcode()),
        "flags": flags_of(r),
        "question": [(q.name.to_text(), dns.rdatatype.to_text(q.rdtype)) for q in r.question],
        # EDNS: version, payload size, flags (DO is copied, RFC 3225 3) and
        # the option codes, less Extended DNS Errors (RFC 8914 is optional:
        # NSD adds them, tierdns does not)
        "edns": None if r.edns < 0 else (
            r.edns, r.payload, r.ednsflags,
            tuple(sorted(o.otype for o in r.options if o.otype != 15))),
        "answer": section_view(r.answer, ttl),
        "authority": section_view(r.authority, ttl),
        "additional": section_view(r.additional, ttl),
    }
    return v


def _opcode_text(op):
    try:
        return dns.opcode.to_text(op)
    except (ValueError, dns.exception.DNSException):
        return "OPCODE%d" % op


def header_only(a, b):
    """When either reply could only be read by its header, compare both by
    rcode, opcode and flags."""
    if not (a.get("header_only") or b.get("header_only")):
        return a, b
    keep = ("rcode", "opcode", "flags", "header_only")
    a = {k: a[k] for k in keep if k in a}
    b = {k: b[k] for k in keep if k in b}
    if "rcode" in a and "rcode" in b:
        a["header_only"] = b["header_only"] = True
    return a, b


def describe(r):
    if r is None:
        return "    (no reply: timeout)"
    if isinstance(r, RawHeader):
        return ("    not parsable as a whole (%s); header: opcode %s rcode %s flags %s\n"
                "    bytes: %s" % (r.err, _opcode_text(r.opcode), dns.rcode.to_text(r.rcode),
                                  " ".join(f for f in FLAG_NAMES
                                           if r.flags & getattr(dns.flags, f)),
                                  r.data[:120].hex()))
    if isinstance(r, str):
        return "    " + r
    return "\n".join("    " + line for line in r.to_text().splitlines()
                     if not line.startswith("id "))


def ttl_far(a, b, slack):
    """RRsets (same owner, class, type and rdata) in the same section of
    views a and b whose TTLs differ by more than slack seconds, as
    (section, owner, type, rdata, ttl in a, ttl in b)."""
    out = []
    for s in ("answer", "authority", "additional"):
        if s not in a or s not in b:
            continue
        tb = {(k[0], k[1], k[2], k[4]): k[3] for k in b[s]}
        for k in a[s]:
            t = tb.get((k[0], k[1], k[2], k[4]))
            if t is not None and abs(t - k[3]) > slack:
                out.append((s, k[0], k[2], k[4], k[3], t))
    return sorted(out, key=repr)


def ttl_text(d):
    return "%s %s %s TTL %d vs %d" % (d[0], d[1], d[2], d[4], d[5])


def diff_fields(a, b):
    """Names of the fields of two views that differ."""
    keys = sorted(set(a) | set(b))
    return [k for k in keys if a.get(k) != b.get(k)]


def section_diff(a, b):
    """Human lines for two section views: what only a has, what only b has."""
    out = []
    for k in sorted(a - b, key=repr):
        out.append("      only in first : %s %s %s ttl=%s %s" % (k[0], k[1], k[2], k[3], sorted(k[4])[:8]))
    for k in sorted(b - a, key=repr):
        out.append("      only in second: %s %s %s ttl=%s %s" % (k[0], k[1], k[2], k[3], sorted(k[4])[:8]))
    return out


# -- the differential loop ------------------------------------------------

def apply_rules(rules, q, a, b):
    """Apply the deliberate-difference rules [(why, fn)]; fn(q, a, b)
    returns (a, b) with what it explains removed, or None."""
    used = []
    for why, rule in rules:
        r = rule(q, a, b)
        if r is not None:
            a2, b2 = r
            if (a2, b2) != (a, b):
                used.append(why)
            a, b = a2, b2
    return a, b, used


class Diff:
    """Send every query to server a (the reference peer) and server b
    (tierdns) and compare the views. A UDP query either answers with TC is
    asked again over TCP (appended to the run); when both set TC the
    truncated sections are not compared (RFC 2181 section 9)."""

    def __init__(self, title, a, b, ttl, rules, known_bugs, verbose=False, ttl_slack=None,
                 origin=None):
        """ttl: compare TTLs exactly (authoritative servers) or not at all;
        ttl_slack=N (with ttl=False): the TTLs of an RRset both replies
        hold may differ by at most N seconds (two caches fetching the same
        data a moment apart, each counting down), unless both lie in the
        window origin (the server both caches ask) explains, see
        ttl_disputes."""
        self.ttl_slack = ttl_slack
        self.origin = origin
        self.fresh_fetches = 0
        self.title = title
        self.a, self.b = a, b
        self.ttl = ttl
        self.rules = rules
        self.known_bugs = known_bugs
        self.verbose = verbose
        self.asker = Asker()
        self.compared = self.tcp = self.identical = self.deliberate = self.known = 0
        self.deliberate_seen = {}
        self.known_seen = set()
        self.failures = []
        self.rcodes = {}
        self.t0 = time.monotonic()

    def ttl_disputes(self, q, diffs):
        """Of the TTL differences, those not explained by the two caches
        having fetched the RRset at different moments of this run (a cache
        may ask again rather than answer from what it holds, RFC 1034 5.3.1;
        tierdns-local does not cache an answer whose chain ends in a
        referral, nor ANY; Unbound refreshes a shared SOA RRset with every
        negative answer): explained when each TTL lies between what the
        origin server gives right now and that less the time this run has
        taken. A TTL above the origin's (increased) or below that window (a
        cap, a wrong countdown) stays a difference."""
        if not diffs or self.origin is None:
            return diffs
        o = self.asker.ask(self.origin, q)
        if o is None or isinstance(o, (str, RawHeader)):
            return diffs
        ov = view(o, True)
        now = {}
        for s in ("answer", "authority", "additional"):
            for k in ov.get(s, ()):
                now[(s, k[0], k[2], k[4])] = k[3]
        out = []
        for d in diffs:
            t = now.get((d[0], d[1], d[2], d[3]))
            low = t - (time.monotonic() - self.t0) - self.ttl_slack if t is not None else 0
            if t is not None and all(low <= x <= t + self.ttl_slack for x in (d[4], d[5])):
                self.fresh_fetches += 1
                continue
            out.append(d)
        return out

    def bug_for(self, q, va, vb):
        for kb in self.known_bugs:
            if kb["key"] == q.key() and kb.get("match", lambda q, a, b: True)(q, va, vb):
                return kb
        return None

    def run(self, queries):
        """One query at a time to a, then to b; TC answers retried over TCP."""
        queue = list(queries)
        i = 0
        while i < len(queue):
            q = queue[i]
            i += 1
            retry = self.compare(q, self.asker.ask(self.a, q), self.asker.ask(self.b, q))
            if retry is not None:
                queue.append(retry)
        return self

    def run_pipelined(self, queries):
        """All queries on one TCP connection per server, written before any
        answer is read (RFC 7766 6.2.1.1); answers matched by ID."""
        ra = self.asker.pipelined(self.a, queries)
        rb = self.asker.pipelined(self.b, queries)
        for q, a, b in zip(queries, ra, rb):
            self.compare(q, a, b)
        return self

    def compare(self, q, ra, rb):
        """Compare the replies to q; returns the TCP retry to run when either
        answer was truncated, else None."""
        retry = None
        va, vb = header_only(view(ra, self.ttl), view(rb, self.ttl))
        if self.ttl_slack is not None:
            ttl_diffs = self.ttl_disputes(q, ttl_far(view(ra, True), view(rb, True),
                                                     self.ttl_slack))
            if ttl_diffs:
                # compared as a difference of its own in the "ttl" field
                va = dict(va, ttl="see below")
                vb = dict(vb, ttl=tuple(ttl_text(d) for d in ttl_diffs))
        rc = vb.get("rcode", "no reply")
        self.rcodes[rc] = self.rcodes.get(rc, 0) + 1
        self.compared += 1
        if q.tcp:
            self.tcp += 1
        tc_a = va.get("flags", {}).get("TC")
        tc_b = vb.get("flags", {}).get("TC")
        if (tc_a or tc_b) and not q.tcp:
            retry = q.tcp_copy()
        if tc_a and tc_b:
            for v in (va, vb):
                for s in ("answer", "authority", "additional"):
                    v.pop(s, None)
        if va == vb:
            self.identical += 1
            if self.verbose:
                print("ok    %s" % q)
            return retry
        a2, b2, used = apply_rules(self.rules, q, va, vb)
        if a2 == b2:
            self.deliberate += 1
            for why in used:
                self.deliberate_seen[why] = self.deliberate_seen.get(why, 0) + 1
            if self.verbose:
                print("DELIB %s: %s" % (q, "; ".join(used)))
            return retry
        bug = self.bug_for(q, va, vb)
        fields = diff_fields(a2, b2)
        text = ["%s %s: differs in %s" % ("XFAIL" if bug else "FAIL", q, ", ".join(fields))]
        if bug:
            text.append("    known bug %s: expected %s; got %s"
                        % (bug["id"], bug["expected"], bug["got"]))
        if "flags" in fields and "flags" in a2 and "flags" in b2:
            text.append("    flags: %s %s, %s %s" % (
                self.a.name, sorted(k for k, v in a2["flags"].items() if v),
                self.b.name, sorted(k for k, v in b2["flags"].items() if v)))
        if "ttl" in fields and isinstance(b2.get("ttl"), tuple):
            text.append("    TTLs further apart than %d s (%s first):" % (self.ttl_slack, self.a.name))
            text.extend("      " + t for t in b2["ttl"])
        for s in ("answer", "authority", "additional"):
            if s in fields and s in a2 and s in b2:
                text.append("    %s section (first = %s, second = %s):"
                            % (s, self.a.name, self.b.name))
                text.extend(section_diff(a2[s], b2[s]))
        text.append("  %s:" % self.a.name)
        text.append(describe(ra))
        text.append("  %s:" % self.b.name)
        text.append(describe(rb))
        if bug:
            self.known += 1
            self.known_seen.add(bug["id"])
            if self.verbose:
                print("\n".join(text))
        else:
            self.failures.append("\n".join(text))
        return retry

    def report(self, minimum=300):
        """Print failures and the summary; returns the exit status."""
        for f in self.failures:
            print(f)
        for kb in self.known_bugs:
            if kb["id"] not in self.known_seen:
                print("note: KNOWN_BUGS %s (%s) no longer reproduces: remove it"
                      % (kb["id"], kb["key"]))
        print("%s: %d queries compared (%d over TCP) in %.1f s: %d identical, "
              "%d deliberate differences, %d known tierdns bugs, %d unexplained"
              % (self.title, self.compared, self.tcp, time.monotonic() - self.t0,
                 self.identical, self.deliberate, self.known, len(self.failures)))
        if self.fresh_fetches:
            print("  TTLs apart by more than %d s, both within what %s gave during the "
                  "run (fetched at different moments): %d RRsets"
                  % (self.ttl_slack, self.origin.name, self.fresh_fetches))
        print("  %s answered: %s" % (self.b.name, ", ".join(
            "%s %d" % kv for kv in sorted(self.rcodes.items(), key=lambda kv: -kv[1]))))
        for why, n in sorted(self.deliberate_seen.items()):
            print("  deliberate (%d queries): %s" % (n, why))
        if self.compared < minimum:
            print("FAIL: fewer than %d queries compared" % minimum)
            return 1
        return 1 if self.failures else 0


# -- deliberate-difference rules shared by the tests ---------------------
#
# A rule gets the query and both views (reference peer first, tierdns
# second) and returns both views with what it explains removed, or None
# when it does not apply.

def rule_any_subset(q, ref, ours):
    """RFC 8482 section 4.1: ANY may be answered with any non-empty subset
    of the RRsets at the name. NSD answers one RRset; tierdns-upper all of
    them (as NSD does for TCP); resolvers pass on or cache either. A bigger
    subset may need TC over UDP where a smaller does not (RFC 1035 4.2.1);
    the TCP retry of the same query is compared too."""
    if q.qtype != "ANY" or "answer" not in ref or "answer" not in ours:
        return None
    if not ref["answer"] or not ours["answer"]:
        return None
    if not (ref["answer"] <= ours["answer"] or ours["answer"] <= ref["answer"]):
        return None
    a, b = dict(ref), dict(ours)
    a["answer"] = b["answer"] = frozenset()
    # a cache may answer ANY from RRsets it holds (TTLs counted down) or
    # fetch it afresh each time (tierdns-local does not cache ANY)
    a.pop("ttl", None)
    b.pop("ttl", None)
    if not q.tcp and a.get("flags") and b.get("flags"):
        a["flags"], b["flags"] = dict(a["flags"]), dict(b["flags"])
        a["flags"]["TC"] = b["flags"]["TC"] = False
    return a, b


RULE_ANY = ("RFC 8482 4.1: ANY answered with another non-empty subset of the RRsets "
            "(TC may differ with the size, TTLs with caching)", rule_any_subset)

def rule_error_question(q, ref, ours):
    """RFC 1035 4.1.2 does not say whether an error reply repeats the
    question. NSD leaves it out of FORMERR, NOTIMP and class REFUSED
    replies, Unbound repeats whatever the query held (even two questions),
    tierdns repeats the question when the query held exactly one (RFC 9619
    section 2: QDCOUNT is at most one). Deliberate for those rcodes when
    everything else agrees."""
    if ref.get("rcode") not in ("FORMERR", "NOTIMP", "REFUSED") or ref.get("rcode") != ours.get("rcode"):
        return None
    if "question" not in ref or "question" not in ours:
        return None
    nr, no = len(ref["question"]), len(ours["question"])
    if not ((no == 1 and nr == 0) or (no == 0 and nr > 1)):
        return None
    a, b = dict(ref), dict(ours)
    a["question"] = b["question"] = []
    return a, b


def rule_chaos_identity(q, ref, ours):
    """RFC 4892: the CH TXT version.bind/version.server/id.server/
    hostname.bind strings are each server's own (configuration); tierdns
    marks these answers authoritative (AA, as BIND does for its built-in
    CHAOS zone), NSD and Unbound do not. Compared: rcode, the other flags,
    owner, class, type, TTL and record count; not the text or AA."""
    if not q.key().startswith("edge:CH TXT ") or "answer" not in ref or "answer" not in ours:
        return None
    a, b = dict(ref), dict(ours)
    for v in (a, b):
        v["answer"] = frozenset((k[0], k[1], k[2], k[3], len(k[4])) for k in v["answer"])
        v["flags"] = dict(v["flags"], AA=False)
    return a, b


def rule_notimp_header(q, ref, ours):
    """An opcode tierdns does not implement gets NOTIMP with QR and the
    opcode only: no RD, CD or RA, no question (RFC 8906 section 8 lists
    the unknown-opcode check of ISC's EDNS compliance test; BIND's own
    system test asserts these flags clear). NSD also leaves the question
    out; Unbound copies RD and the question. Deliberate when everything
    else agrees."""
    if ref.get("rcode") != "NOTIMP" or ours.get("rcode") != "NOTIMP":
        return None
    if "flags" not in ref or "flags" not in ours:
        return None
    if any(ours["flags"].get(f) for f in ("RD", "CD", "RA", "AA")):
        return None
    a, b = dict(ref), dict(ours)
    a["flags"] = dict(ref["flags"], RD=False, CD=False)
    if "question" in a and "question" in b and not b["question"]:
        a["question"] = b["question"]
    return a, b


RULE_NOTIMP_HEADER = ("RFC 8906 8: NOTIMP carries QR and the opcode only (no RD, CD, "
                      "question)", rule_notimp_header)

RULE_ERROR_QUESTION = ("RFC 1035 4.1.2 / RFC 9619 2: the question repeated, or not, in "
                       "FORMERR/NOTIMP/REFUSED replies", rule_error_question)
RULE_CHAOS = ("RFC 4892: CH TXT identity strings are configuration; AA set by tierdns "
              "for its own CHAOS answers", rule_chaos_identity)
