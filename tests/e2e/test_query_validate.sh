#!/usr/bin/env bash
# tierdns-query on its own, against a misbehaving fake server
# (fake_server.py): replies with the wrong ID, without QR or for another
# question are ignored (RFC 5452 9.1) and the real answer that follows is
# printed; a truncated UDP answer is retried over TCP (RFC 7766 5).
. "$(dirname "$0")/lib.sh"
e2e_init_bare
[ -x "$QUERY_BIN" ] || fail "missing $QUERY_BIN"
command -v python3 >/dev/null || fail "python3 is not installed"

addr=127.0.0.1
python3 "$(dirname "$0")/fake_server.py" "$addr" "$T/port" >"$T/fake.log" 2>&1 &
FAKE_PID=$!
E2E_NAMES+=(FAKE)
for _ in $(seq 1 50); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || fail "fake server did not start"
port=$(cat "$T/port")
qry() { "$QUERY_BIN" -s "$addr" -p "$port" --timeout 8000 "$@"; }

out=$(qry ok.test) || fail "ok.test failed: $out"
expect_lines "$out" '^ok\.test\. 300 IN A 192\.0\.2\.77$'

out=$(qry tc.test) || fail "tc.test failed: $out"
expect_lines "$out" '^tc\.test\. 300 IN A 192\.0\.2\.78$'

rc=0
out=$(qry nope.test) || rc=$?
[ "$rc" -eq 1 ] || fail "NXDOMAIN exited $rc"
expect_lines "$out" '^nope\.test: not found \(NXDOMAIN\)$'

# On a terminal the prompt of the original design is shown before each
# line (driven through a pseudo-terminal).
out=$(python3 - "$QUERY_BIN" "$addr" "$port" <<'PY'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["tierdns-query", "-s", sys.argv[2], "-p", sys.argv[3]])
buf = b""
def read_until(token, times=1, limit=15.0):
    global buf
    end = time.time() + limit
    while buf.count(token) < times and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            buf += d
read_until(b"name> ")
os.write(fd, b"ok.test\n")
read_until(b"192.0.2.77")
read_until(b"name> ", 2)
os.write(fd, b"exit\n")
read_until(b"never printed", limit=2.0)  # to EOF
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode().replace("\r\n", "\n"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
) || fail "interactive session on a terminal failed: $out"
expect_lines "$out" '^name> ok\.test$' '^ok\.test\. 300 IN A 192\.0\.2\.77$' '^name> exit$'
