#!/usr/bin/python3
"""kill -9 of `tierdns-zone load` during a large load (issue 4, "crash
safety"). The store holds big.test. version 1 (serial 1, a few records);
version 2 (serial 2, 200000 A records) is loaded and the loader killed
0.3 s after its start, then at the entry of its data fdatasync and just
after its meta page write (exact, with strace's fault injection; without
strace: as its commit starts writing pages and 10 ms into it). After each kill `tierdns-zone list` must show version 1 or version 2 wholly
(serial and record count of one version), and tierdns-upper started on
the store serves that version (h5 and h150000 answered as that version
says). An upper running all through each load serves version 1 (then
maybe 2), and never version 2 if version 1 survives the
kill. Then a load (of version 1 again) succeeds on the crashed store."""
import os
import shutil
import signal
import subprocess
import sys
import threading
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

NEW = (2, N + 3)
base_size = os.stat(os.path.join(base, "data.mdb")).st_size


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


def tracee_of(pid):
    """The child strace runs (the loader)."""
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None
    except OSError:
        return None


def proc_state(pid):
    """The state letter of a process (Z: zombie), None once it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def killed_load(db, delay=None, after_growth=None, strace=None):
    """Load v2 into db and SIGKILL the loader: `delay` seconds after it
    started, or `after_growth` seconds after data.mdb first grew (LMDB
    writes the new pages only in the commit: this lands in the commit),
    or exactly at a system call under strace's fault injection:
      "data-sync"  at the entry of the fdatasync of the new pages, before
                   the meta page is written;
      "meta-write" just after the meta page's write (LMDB writes it with
                   O_DSYNC through its own descriptor, the one pwrite64),
                   before the lock file's transaction ID is updated.
    Returns whether it was killed (False: it had finished)."""
    cmd = [hl.ZONE_BIN, "--db", db, "load", v2]
    env = dict(os.environ)
    if strace == "data-sync":
        cmd = ["strace", "-f", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=fdatasync",
               "-e", "inject=fdatasync:delay_enter=10000000:when=1"] + cmd
    elif strace == "meta-write":
        cmd = ["strace", "-f", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=pwrite64",
               "-e", "inject=pwrite64:delay_exit=10000000:when=1"] + cmd
    if strace:
        env["ASAN_OPTIONS"] = "detect_leaks=0"  # LSan cannot run under ptrace
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    h.children.append(p)
    if delay is not None:
        time.sleep(delay)
    else:
        data = os.path.join(db, "data.mdb")
        while p.poll() is None and os.stat(data).st_size <= base_size:
            time.sleep(0.001)
        time.sleep(after_growth)
    if strace:
        # the loader now waits 10 s in the injected delay (data-sync: once
        # the pages are written; meta-write: after the pages are synced and
        # the meta page written, which takes well under 2 s): kill the
        # loader itself there (strace then exits).
        time.sleep(2)
        pid = tracee_of(p.pid)
        killed = pid is not None
        if killed:
            # The loader stays in its ptrace stop until strace's delay
            # timer runs out; ending strace detaches it, and the pending
            # SIGKILL ends it before it runs one more instruction of its
            # own (a fatal signal is taken on the way back to user space).
            os.kill(pid, signal.SIGKILL)
            p.kill()
            t_end = time.monotonic() + 10
            while proc_state(pid) not in ("Z", "X", None) and time.monotonic() < t_end:
                time.sleep(0.01)
        p.wait()
        return killed
    killed = p.poll() is None
    if killed:
        p.send_signal(signal.SIGKILL)
    p.wait()
    return killed


results = []
if shutil.which("strace"):
    points = [("0.3 s after the start", dict(delay=0.3)),
              ("at the data fdatasync (strace)", dict(after_growth=0.0, strace="data-sync")),
              ("right after the meta write (strace)", dict(after_growth=0.0, strace="meta-write"))]
else:
    h.log("note: strace is not installed: kills in the commit are timed, not exact")
    points = [("0.3 s after the start", dict(delay=0.3)),
              ("as the commit starts writing", dict(after_growth=0.0)),
              ("10 ms into the commit", dict(after_growth=0.01))]


def watch(d, stop, seen):
    """Query the running upper during the load: which versions it served."""
    while not stop.is_set():
        m, _ = hl.query(d, "h150000.big.test.", timeout=1)
        if m is None:
            seen.add("none")
        elif hl.answer_addrs(m):
            seen.add(2)
        elif hl.rcode_text(m) == "NXDOMAIN":
            seen.add(1)
        else:
            seen.add(hl.rcode_text(m))
        time.sleep(0.05)  # leave the CPU to the loader


for k, (when, how) in enumerate(points):
    db = os.path.join(h.tmp, "db%d" % k)
    shutil.copytree(base, db)
    # an upper serves the store all through the load and the kill
    running = h.start_upper("RUNNING", db)
    stop, seen = threading.Event(), set()
    watcher = threading.Thread(target=watch, args=(running, stop, seen))
    watcher.start()
    killed = killed_load(db, **how)
    time.sleep(0.2)
    stop.set()
    watcher.join()
    # What the store holds while the upper still has it open, then once
    # every process has closed it. LMDB readers take the current
    # transaction from the lock file, which the writer updates just after
    # writing the meta page: a loader killed between the two leaves the new
    # version invisible to processes that have the store open and visible
    # to the next one that opens it alone (or after the next write). Both
    # are whole versions; the only way allowed is old -> new.
    during = big_line(db)
    h.stop(running)
    h.daemons.remove(running)
    state = big_line(db)
    label = "kill %s (%s)" % (when, "killed" if killed else "had finished")
    for what, st in (("with the upper running", during), ("after all closed", state)):
        h.check(st in (OLD, NEW), "%s: big.test. is half-loaded %s: (serial, records) %s, "
                "expected %s or %s" % (label, what, st, OLD, NEW))
    h.check(not (during == NEW and state == OLD),
            "%s: version 2 was in the store, then gone after a reopen" % label)
    h.check(seen <= {1, 2} and 1 in seen,
            "%s: the running upper answered %s during the load (want version 1, "
            "then maybe 2)" % (label, seen))
    h.check(not (state == OLD and 2 in seen),
            "%s: the running upper served version 2, but the store has version 1 "
            "after the kill" % label)
    name = {OLD: "old", NEW: "new"}
    results.append("%s -> %s" % (label, name.get(state, state)) +
                   (" (%s while the upper had it open)" % name.get(during, during)
                    if during != state else ""))
    if state in (OLD, NEW):
        serve_check(db, 1 if state == OLD else 2, label)
    if k == len(points) - 1:
        # after a killed load a load succeeds on the store (version 1
        # again: small, so the script stays short)
        h.zone_load(db, v1)
        state = big_line(db)
        h.check(state == OLD, "the load after a killed one: %s, expected %s" % (state, OLD))
        serve_check(db, 1, "the load after a killed one")
    shutil.rmtree(db)
h.log("; ".join(results))
h.finish()
