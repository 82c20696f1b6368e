#!/usr/bin/env bash
# The one list of Debian packages tierdns needs to build, run and test, and the
# code that installs the missing ones. Sourced by run.sh and test.sh:
#   tdns_deps build   - what building and running need
#   tdns_deps test    - that plus what the tests need
#   tdns_deps bench   - build plus the load generator and the peers that
#                       tools/bench.sh measures against (never by test.sh)
#   tdns_deps fuzz    - build plus clang and its libFuzzer runtime, for
#                       tests/fuzz/run.sh (never by test.sh)
#   tdns_deps soak    - build plus the load generator, for tools/soak.sh
# As root it runs `apt-get update` once and `apt-get install -y`; otherwise it
# prints the exact command to run and fails.

# scdoc: the man pages (man/*.scd) are rendered at build time;
# libsystemd-dev: sd_notify, so that the Type=notify units know when a
# daemon is ready, reloading or stopping (and sd_journal_print for log: journal);
# libyaml-dev: the configuration file is YAML, as Knot DNS and Knot Resolver 6
# use; libyaml is the reference C parser, kept in Debian, and gives every
# node's line and column for the error messages;
# libssl-dev: DNS over TLS (src/tls.c). OpenSSL rather than GnuTLS because
# ldns already links libssl/libcrypto: no new library at run time, and
# OpenSSL 3.0 has TLS 1.3, tickets and hostname/IP verification;
# libnghttp2-dev: DNS over HTTPS (src/doh.c): HTTP/2 framing, HPACK and flow
# control from the library curl and Apache use, not written here;
# libfstrm-dev: dnstap (src/dnstap.c) is defined over Frame Streams, and
# libfstrm is its reference implementation (its I/O thread, queues, the
# socket reconnects); the protobuf is small enough to be written in dnstap.c
TDNS_PKGS_BUILD=(build-essential cmake pkg-config libldns-dev liblmdb-dev
                 libsystemd-dev libyaml-dev libssl-dev libnghttp2-dev libfstrm-dev
                 bind9-dnsutils ldnsutils lmdb-utils scdoc)
# nsd and unbound: the interop tests (tests/interop) compare both tiers with them;
# strace: tests/e2e/test_crash_zoneload.py kills the loader at exact system
# calls of its commit with strace's fault injection (timed kills without it)
# systemd: systemd-analyze verify checks the unit files (tests/e2e/test_units.sh);
# dpkg-dev: dpkg-shlibdeps, for the .deb that cpack builds (test_deb.sh)
# dnsperf: the short soak (tests/e2e/test_soak.sh runs tools/soak.py);
# prometheus: promtool check metrics, the format's own checker, reads what
# --metrics serves (tests/e2e/test_metrics.sh);
# knot-dnsutils: kdig, a second DNS over TLS client beside dig +tls
# (tests/e2e/test_tls.py), the one with +https for DNS over HTTPS, and a
# reader of tierdns's AXFR (test_xfr_primary.py);
# openssl: the test CA and certificates are made at test time;
# dnstap-ldns: an independent dnstap reader, fstrm-bin: fstrm_capture, a
# Frame Streams collector on a Unix socket (tests/e2e/test_dnstap.sh);
# knot (knotd, knotc) and bind9 (named): with nsd, the peers of the zone
# transfer interop test (tests/interop/test_xfr_interop.py: each as primary
# and as secondary of tierdns-upper, about 40 s in all); dnsdist: the load
# balancer in front of two tierdns-local (test_dnsdist.py)
TDNS_PKGS_TEST=(libcmocka-dev python3 python3-dnspython procps nsd unbound strace
                systemd dpkg-dev dnsperf prometheus knot-dnsutils openssl dnstap-ldns
                fstrm-bin knot bind9 dnsdist)
# openssl: the DNS over TLS rows make a throw-away certificate and time
# handshakes with openssl s_time
TDNS_PKGS_BENCH=(dnsperf nsd unbound dnsmasq-base valgrind procps openssl)
TDNS_PKGS_FUZZ=(clang libclang-rt-14-dev)
TDNS_PKGS_SOAK=(dnsperf python3 procps)

tdns_deps() {
	local want=("${TDNS_PKGS_BUILD[@]}") missing=() p
	[ "${1:-build}" = test ] && want+=("${TDNS_PKGS_TEST[@]}")
	[ "${1:-build}" = bench ] && want+=("${TDNS_PKGS_BENCH[@]}")
	[ "${1:-build}" = fuzz ] && want+=("${TDNS_PKGS_FUZZ[@]}")
	[ "${1:-build}" = soak ] && want+=("${TDNS_PKGS_SOAK[@]}")
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "tierdns needs these Debian packages; as root run:" >&2
		echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
		return 1
	fi
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}
