#!/usr/bin/python3
"""Per-upstream counters for every upstream of tierdns-local (issues 14,
16), not only the first eight: one default upstream and ten --forward
domains, each to an upstream of its own (eleven in all). After one question
in each domain, /metrics shows for every upstream, by its address, the
attempts it received and answered, each family's samples together
(promtool check metrics accepts it), and tierdns-control stats lists
upstream.0 to upstream.10."""
import os
import re
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_lib as hl  # noqa: E402

h = hl.Harness("test_stats_upstreams")
N_FWD = 10


def handler(up, s):
    if s.msg is None:
        return None
    return [("send", hl.a_reply(s, "192.0.2.1"))]


default = hl.FakeUpstream(h, handler)
fwd = [hl.FakeUpstream(h, handler) for _ in range(N_FWD)]
args = ["--threads", "1", "--control", os.path.join(h.tmp, "local.sock"),
        "--metrics", "%s:%d" % (hl.rand_addr(), hl.rand_port())]
for i, f in enumerate(fwd):
    args += ["--forward", "f%d.test.@%s" % (i, f.endpoint)]
local = h.start_local("LOCAL", os.path.join(h.tmp, "l"), [default.endpoint], *args)
metrics = args[args.index("--metrics") + 1]

m, _ = hl.query(local, "www.example.", timeout=3)
h.check(hl.answer_addrs(m) == {"192.0.2.1"}, "www.example. answered by the default upstream")
for i in range(N_FWD):
    m, _ = hl.query(local, "www.f%d.test." % i, timeout=3)
    h.check(hl.answer_addrs(m) == {"192.0.2.1"}, "www.f%d.test. answered" % i)

body = urllib.request.urlopen("http://%s/metrics" % metrics, timeout=5).read().decode()


def per_upstream(family):
    return {a: int(v) for a, v in re.findall(
        r'^%s\{upstream="([^"]+)"\} (\d+)$' % family, body, re.M)}


if shutil.which("promtool"):
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True,
                       text=True, timeout=30)
    h.check(r.returncode == 0, "promtool accepts the metrics of eleven upstreams: %s"
            % (r.stdout + r.stderr))
else:
    h.log("promtool not installed: its check skipped")
sent = per_upstream("tierdns_upstream_server_queries_total")
answered = per_upstream("tierdns_upstream_server_answers_total")
for up in [default] + fwd:
    n = len(up.queries())
    h.check(n == 1 and sent.get(up.endpoint) == n and answered.get(up.endpoint) == n,
            "upstream %s: %d queries received, /metrics says %s sent, %s answered"
            % (up.endpoint, n, sent.get(up.endpoint), answered.get(up.endpoint)))
st = hl.control_stats(os.path.join(h.tmp, "local.sock"))
h.check(all(st.get("upstream.%d.sent" % i) == 1 for i in range(N_FWD + 1)),
        "stats: upstream.0 .. upstream.%d each sent 1: %s"
        % (N_FWD, [st.get("upstream.%d.sent" % i) for i in range(N_FWD + 1)]))
h.stop(local)
h.finish()
