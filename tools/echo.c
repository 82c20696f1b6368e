/*
 * tierdns-echo - the benchmark's ceiling: a UDP responder that does no DNS
 * work at all. It receives datagrams in batches (recvmmsg), sets the QR bit
 * of each and sends them back unchanged in batches (sendmmsg). No DNS server
 * can answer faster than this on the same machine, kernel and load
 * generator, so tools/bench.sh reports every daemon against it.
 *
 *   tierdns-echo [-l ADDR] [-p PORT] [-t THREADS]
 *
 * Each thread owns its own SO_REUSEPORT socket, like the daemons' workers,
 * so the kernel spreads clients over the threads. It runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_BATCH 64
#define ECHO_BUFSZ 4096
#define ECHO_MAX_THREADS 64
#define DNS_HEADER_LEN 12
#define DNS_FLAG_QR 0x80 /* high bit of the third header byte, RFC 1035 4.1.1 */

struct echo_worker {
	pthread_t tid;
	int fd;
};

/* One datagram socket bound to addr with SO_REUSEPORT; -1 on error. */
static int echo_socket(const struct sockaddr_storage *addr, socklen_t len)
{
	int fd = -1, one = 1, ret = -1;

	fd = socket(addr->ss_family, SOCK_DGRAM, 0);
	if (fd < 0)
		goto out;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto out;
	if (bind(fd, (const struct sockaddr *)addr, len) < 0)
		goto out;
	ret = fd;
	fd = -1;
out:
	if (ret < 0)
		perror("tierdns-echo: socket");
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Receive a batch, answer every packet that looks like a query, repeat. */
static void *echo_run(void *arg)
{
	struct echo_worker *w = arg;
	static __thread unsigned char bufs[ECHO_BATCH][ECHO_BUFSZ];
	struct sockaddr_storage peers[ECHO_BATCH];
	struct iovec iov[ECHO_BATCH];
	struct mmsghdr in[ECHO_BATCH], out[ECHO_BATCH];

	for (;;) {
		int n, i;
		unsigned nout = 0, sent = 0;

		for (i = 0; i < ECHO_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = ECHO_BUFSZ;
			memset(&in[i], 0, sizeof(in[i]));
			in[i].msg_hdr.msg_name = &peers[i];
			in[i].msg_hdr.msg_namelen = sizeof(peers[i]);
			in[i].msg_hdr.msg_iov = &iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(w->fd, in, ECHO_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("tierdns-echo: recvmmsg");
			break;
		}
		for (i = 0; i < n; i++) {
			/* Like a server: silence for runts and for responses. */
			if (in[i].msg_len < DNS_HEADER_LEN ||
			    (bufs[i][2] & DNS_FLAG_QR) != 0)
				continue;
			bufs[i][2] |= DNS_FLAG_QR;
			iov[i].iov_len = in[i].msg_len;
			out[nout] = in[i];
			out[nout].msg_len = 0;
			nout++;
		}
		while (sent < nout) {
			int r = sendmmsg(w->fd, out + sent, nout - sent, 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				/* A full socket buffer drops the rest, as a
				 * real server would. */
				break;
			}
			sent += (unsigned)r;
		}
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: tierdns-echo [-l ADDR] [-p PORT] [-t THREADS]\n"
		   "  UDP echo with the DNS QR bit set: the benchmark ceiling.\n"
		   "  -l/--listen ADDR   IPv4 or IPv6 address (default 127.0.0.1)\n"
		   "  -p/--port N        port (default 9997)\n"
		   "  -t/--threads N     threads, one SO_REUSEPORT socket each\n"
		   "                     (default: number of CPUs)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"port", required_argument, NULL, 'p'},
		{"threads", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct echo_worker workers[ECHO_MAX_THREADS];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *listen = "127.0.0.1";
	unsigned long port = 9997, threads = 0;
	long ncpu;
	unsigned i, started = 0;
	int c, ret = 1;
	char *end;

	while ((c = getopt_long(argc, argv, "l:p:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen = optarg;
			break;
		case 'p':
			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || port == 0 || port > 65535) {
				fprintf(stderr, "tierdns-echo: bad port '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
			errno = 0;
			threads = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || threads == 0 ||
			    threads > ECHO_MAX_THREADS) {
				fprintf(stderr, "tierdns-echo: bad thread count '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (threads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu < 1 ? 1 : ncpu > ECHO_MAX_THREADS ? ECHO_MAX_THREADS
								  : (unsigned long)ncpu;
	}

	memset(&addr, 0, sizeof(addr));
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;

		if (inet_pton(AF_INET, listen, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons((uint16_t)port);
			addrlen = sizeof(*a4);
		} else if (inet_pton(AF_INET6, listen, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons((uint16_t)port);
			addrlen = sizeof(*a6);
		} else {
			fprintf(stderr, "tierdns-echo: bad address '%s'\n", listen);
			return 2;
		}
	}

	/* Bind every socket before serving, so a port clash fails at once. */
	for (i = 0; i < threads; i++) {
		workers[i].fd = echo_socket(&addr, addrlen);
		if (workers[i].fd < 0)
			goto out;
		started++;
	}
	for (i = 1; i < threads; i++) {
		if (pthread_create(&workers[i].tid, NULL, echo_run, &workers[i]) != 0) {
			fprintf(stderr, "tierdns-echo: cannot start thread\n");
			goto out;
		}
	}
	fprintf(stderr, "tierdns-echo: %s port %lu, %lu thread(s)\n", listen, port,
		threads);
	echo_run(&workers[0]);
	ret = 1; /* echo_run only returns on a socket error */
out:
	/* Threads still running die with the process. */
	for (i = 0; i < started; i++)
		close(workers[i].fd);
	return ret;
}
