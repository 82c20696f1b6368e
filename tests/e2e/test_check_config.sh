#!/usr/bin/env bash
# --check-config of both daemons, as nsd-checkconf / unbound-checkconf: it
# prints the effective configuration (every key, defaults included) as a
# file that reads back to the same configuration, exits 2 with a one-line
# error on a bad file, opens no store and binds nothing. The sample files
# that cmake --install ships pass it, and they list every key with its
# default (uncommented, they change nothing). The README's sample files pass.
. "$(dirname "$0")/lib.sh"
e2e_init

# check PROG ARGS...: --check-config's output in $T/out, stderr in $T/err,
# exit status in RC.
check() {
	local bin=$UPPER_BIN
	[ "$1" = local ] && bin=$LOCAL_BIN
	shift
	RC=0
	"$bin" "$@" --check-config >"$T/out" 2>"$T/err" || RC=$?
}

# body FILE: the configuration without its first line (which names the file).
body() { tail -n +2 "$1"; }

for tier in upper local; do
	# The defaults, and the output read back: the same configuration.
	check $tier -c /dev/null
	[ "$RC" -eq 0 ] || fail "$tier: defaults: exit $RC: $(cat "$T/err")"
	[ -s "$T/err" ] && fail "$tier: --check-config wrote to stderr: $(cat "$T/err")"
	cp "$T/out" "$T/$tier.defaults"
	for key in db listen port threads max-tcp max-tcp-per-client tcp-idle user pid-file \
		chroot control socket mode group metrics log verbosity zones; do
		grep -Eq "^(  )?$key:" "$T/out" || fail "$tier: no key $key in: $(cat "$T/out")"
	done
	# Every option of --help but -c, --check-config, -h and -V has a key
	# (the same name; -v is verbosity:, --control and --metrics the
	# sections' socket: and listen:).
	bin=$UPPER_BIN
	[ $tier = local ] && bin=$LOCAL_BIN
	"$bin" --help | sed -n 's/^  \(-[A-Za-z0-9], \)\{0,1\}--\([a-z0-9-]*\).*/\2/p' |
		while read -r opt; do
			case $opt in
			config | check-config | help | version) continue ;;
			verbose) key=verbosity ;;
			control) key="control:
  socket" ;;
			metrics) key="metrics:
  listen" ;;
			*) key=$opt ;;
			esac
			grep -qzF "$key:" "$T/out" || fail "$tier: option --$opt has no key $key"
		done
	[ "$("$bin" --help | grep -c '^  .*--')" -ge 15 ] || fail "$tier: few options in --help"
	check $tier -c "$T/$tier.defaults"
	[ "$RC" -eq 0 ] || fail "$tier: its own output: exit $RC: $(cat "$T/err")"
	diff <(body "$T/out") <(body "$T/$tier.defaults") >"$T/diff" ||
		fail "$tier: output read back differs: $(cat "$T/diff")"

	# Not the defaults: read back all the same; flags override the file.
	printf 'port: 5353\nlisten: [127.0.0.7, "[::1]:53"]\nlog: syslog\nverbosity: 2\n' \
		>"$T/$tier.conf"
	printf 'control: {socket: /run/t.ctl, mode: 0600}\nzones: [{name: example.}]\n' \
		>>"$T/$tier.conf"
	check $tier -c "$T/$tier.conf" -p 5354 --log journal
	[ "$RC" -eq 0 ] || fail "$tier: exit $RC: $(cat "$T/err")"
	cp "$T/out" "$T/$tier.effective"
	grep -qx 'port: 5354' "$T/out" || fail "$tier: -p does not override port:"
	grep -qx 'log: journal' "$T/out" || fail "$tier: --log does not override log:"
	grep -qx '  - "127.0.0.7"' "$T/out" || fail "$tier: listen: $(cat "$T/out")"
	grep -qx '  - "\[::1\]:53"' "$T/out" || fail "$tier: listen: $(cat "$T/out")"
	grep -qx '  mode: 0600' "$T/out" || fail "$tier: control.mode: $(cat "$T/out")"
	grep -qx '  - name: "example."' "$T/out" || fail "$tier: zones: $(cat "$T/out")"
	check $tier -c "$T/$tier.effective"
	diff <(body "$T/out") <(body "$T/$tier.effective") >"$T/diff" ||
		fail "$tier: output read back differs: $(cat "$T/diff")"

	# The sample file the install ships: valid, the defaults; and with every
	# key uncommented ("#key:" lines; prose comments have a space) still the
	# defaults, so each shows its default. Every key is in it.
	sample="$TDNS_BUILD/packaging/$tier.conf"
	[ -f "$sample" ] || fail "no sample $sample"
	check $tier -c "$sample"
	[ "$RC" -eq 0 ] || fail "$tier sample: exit $RC: $(cat "$T/err")"
	diff <(body "$T/out") <(body "$T/$tier.defaults") >"$T/diff" ||
		fail "$tier sample is not the defaults: $(cat "$T/diff")"
	sed -E 's/^#([^ #])/\1/' "$sample" >"$T/$tier.uncommented"
	[ "$(grep -c '^[a-z]' "$T/$tier.uncommented")" -ge 12 ] ||
		fail "$tier sample: few keys to uncomment: $(cat "$T/$tier.uncommented")"
	check $tier -c "$T/$tier.uncommented"
	[ "$RC" -eq 0 ] || fail "$tier sample uncommented: exit $RC: $(cat "$T/err")"
	# threads: the number of CPUs here, which a file cannot say.
	diff <(body "$T/out") <(body "$T/$tier.defaults") >"$T/diff" ||
		fail "$tier sample, uncommented, is not the defaults: $(cat "$T/diff")"
	sed -n 's/^\(  \)\{0,1\}\([a-z0-9-]*\):.*/\2/p' "$T/$tier.defaults" | sort -u |
		while read -r key; do
			grep -Eq "^#( )?( *)$key:" "$sample" || fail "$tier sample lacks key $key"
		done
done

# Errors: one line on stderr naming FILE:LINE:COLUMN and the key, nothing
# on stdout, exit 2.
printf 'port: 53\nmax-tt: 5\n' >"$T/bad.conf"
check local -c "$T/bad.conf"
[ "$RC" -eq 2 ] || fail "bad file: exit $RC"
[ -s "$T/out" ] && fail "bad file: output on stdout: $(cat "$T/out")"
expect_lines "$(cat "$T/err")" \
	"^tierdns-local: $T/bad.conf:2:1: unknown key 'max-tt' \\(did you mean 'max-ttl'\\?\\)$"
check upper -c "$T/bad.conf"
expect_lines "$(cat "$T/err")" "^tierdns-upper: $T/bad.conf:2:1: unknown key 'max-tt' \\(did you mean 'max-tcp'\\?\\)$"
printf 'upstream: 192.0.2.1\n' >"$T/bad.conf"
check upper -c "$T/bad.conf"
[ "$RC" -eq 2 ] || fail "upstream in upper: exit $RC"
expect_lines "$(cat "$T/err")" \
	"^tierdns-upper: $T/bad.conf:1:1: key 'upstream' applies to tierdns-local only$"
check upper -c "$T/missing.conf"
[ "$RC" -eq 2 ] || fail "missing -c file: exit $RC"
expect_lines "$(cat "$T/err")" \
	"^tierdns-upper: cannot read configuration file $T/missing.conf: No such file or directory$"
# A daemon started with a bad file does not start (exit 2, same line).
printf 'port: 0\n' >"$T/bad.conf"
rc=0
"$UPPER_BIN" -c "$T/bad.conf" --db "$T/never" >"$T/start.out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "upper with a bad file: exit $rc"
expect_lines "$(cat "$T/start.out")" \
	"^tierdns-upper: $T/bad.conf:1:7: key 'port': invalid value '0' \\(1-65535\\)$"
[ -e "$T/never" ] && fail "a bad configuration created the store"

# It opens no store and binds nothing: an address in use and a store that
# does not exist are fine.
zone_load "$T/upper" "$ZONES"/upper/*.zone
start_upper UPPER "$T/upper"
check upper -c /dev/null --db "$T/nostore" -l "$UPPER_ADDR" -p "$UPPER_PORT"
[ "$RC" -eq 0 ] || fail "--check-config with a busy address: exit $RC: $(cat "$T/err")"
[ -e "$T/nostore" ] && fail "--check-config created the store"
q UPPER webapp.site A
expect_status NOERROR
stop_daemon UPPER

# The README's sample files (```yaml blocks; the first line names the file).
n=0
awk -v dir="$T" '
	/^```yaml$/ { on = 1; n++; f = dir "/readme" n ".conf"; next }
	on && /^```$/ { on = 0; next }
	on { print > f }' "$TDNS_SRC/README.md"
for f in "$T"/readme*.conf; do
	[ -f "$f" ] || fail "no yaml sample in README.md"
	case "$(head -n 1 "$f")" in
	*upper.conf*) tier=upper ;;
	*local.conf*) tier=local ;;
	*) fail "README sample does not name its file: $(head -n 1 "$f")" ;;
	esac
	check $tier -c "$f"
	[ "$RC" -eq 0 ] || fail "README's $tier sample: $(cat "$T/err")"
	n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "README has $n samples, want one per daemon"
log "ok"
