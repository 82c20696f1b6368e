/*
 * tierdns-query - the bundled client: one-shot lookups for names given as
 * arguments, or the interactive prompt of the original design (one name per
 * line, `exit` or EOF quits).
 *
 * Packets are built and parsed with ldns; this tool talks to the socket
 * itself because it is a client CLI, not part of the daemons' event loop.
 * A query goes out over UDP and is retried over TCP when the answer comes
 * back truncated (RFC 1035 4.2.1, RFC 7766 5); --tcp skips UDP.
 *
 * Exit status (one-shot): 0 when every name got NOERROR (an empty answer,
 * NODATA, counts as success: the name exists, it just has no records of that
 * type, as with host(1)); 1 when any name failed (NXDOMAIN, SERVFAIL,
 * REFUSED, timeout, network error, malformed reply); 2 on a usage error.
 * Interactive mode exits 0 on `exit`, `quit` or EOF.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#define QUERY_DEFAULT_SERVER "127.0.0.1"
#define QUERY_DEFAULT_PORT "9999"
#define QUERY_DEFAULT_TIMEOUT_MS 3000
/* RFC 6891 6.2.5 and the DNS flag day 2020 recommendation. */
#define QUERY_DEFAULT_BUFSIZE 1232
#define QUERY_MAX_MSG 65535
#define QUERY_PROMPT "name> "

struct query_cfg {
	const char *server;
	const char *port;
	ldns_rr_type type;
	bool tcp_only;
	int timeout_ms;
	uint16_t bufsize; /* EDNS0 UDP payload size; 0 = no OPT record */
};

/* How one lookup ended. Everything but QUERY_OK is a failure for the exit
 * status. */
enum query_outcome {
	QUERY_OK = 0,
	QUERY_FAILED,
};

/* Why the transport gave no reply. */
enum xfer_result {
	XFER_OK = 0,
	XFER_TIMEOUT,
	XFER_NETERR, /* errno describes it */
	XFER_BADREPLY,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tierdns-query [options] [NAME...]\n"
		"Look up NAME(s) at a tierdns (or any DNS) server and print the answer\n"
		"records. Without NAME, read names from standard input, one per line\n"
		"(`NAME` or `NAME TYPE`); `exit`, `quit` or end of input stops.\n"
		"\n"
		"  -s, --server ADDR   server address or host name (default %s)\n"
		"  -p, --port N        server port (default %s)\n"
		"  -t, --type T        record type: A, AAAA, MX, TXT, TYPE65... (default A)\n"
		"      --tcp           query over TCP only (default: UDP, TCP when truncated)\n"
		"      --timeout MS    wait at most MS milliseconds per name (default %d)\n"
		"      --bufsize N     EDNS0 UDP payload size, 0 = no EDNS (default %d)\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n"
		"\n"
		"Exit status: 0 every name answered (including \"no TYPE records\"),\n"
		"1 some name failed (NXDOMAIN, SERVFAIL, REFUSED, timeout), 2 usage error.\n",
		QUERY_DEFAULT_SERVER, QUERY_DEFAULT_PORT, QUERY_DEFAULT_TIMEOUT_MS,
		QUERY_DEFAULT_BUFSIZE);
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

/* ldns_get_rr_type_by_name answers 0 for names it does not know; "TYPE0"
 * is not a valid query type either (RFC 6895 3.1). */
static bool parse_type(const char *s, ldns_rr_type *out)
{
	ldns_rr_type t = ldns_get_rr_type_by_name(s);

	if (t == 0)
		return false;
	*out = t;
	return true;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until the deadline. 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0)
			return 0;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static int open_socket(const struct addrinfo *ai, int socktype)
{
	return socket(ai->ai_family, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* Send msg over UDP and wait for one datagram that accept() likes; replies
 * with another ID or question are ignored (RFC 5452 9.1), as a forged or
 * late answer would be. The connected socket makes the kernel drop datagrams
 * from any other address or port. */
static enum xfer_result xfer_udp(const struct addrinfo *ai, const uint8_t *msg,
				 size_t len, int64_t deadline,
				 bool (*accept)(void *ctx, const uint8_t *m, size_t n),
				 void *ctx, uint8_t *buf, size_t *buf_len)
{
	enum xfer_result res = XFER_NETERR;
	int fd = -1;
	ssize_t n;
	int w;

	fd = open_socket(ai, SOCK_DGRAM);
	if (fd < 0)
		goto out;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		goto out;
	if (send(fd, msg, len, 0) != (ssize_t)len)
		goto out;
	for (;;) {
		w = wait_fd(fd, POLLIN, deadline);
		if (w == 0) {
			res = XFER_TIMEOUT;
			goto out;
		}
		if (w < 0)
			goto out;
		n = recv(fd, buf, QUERY_MAX_MSG, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			goto out;
		}
		if (accept(ctx, buf, (size_t)n)) {
			*buf_len = (size_t)n;
			res = XFER_OK;
			goto out;
		}
	}
out:
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return res;
}

/* Write all of buf before the deadline. */
static enum xfer_result write_all(int fd, const uint8_t *buf, size_t len,
				  int64_t deadline)
{
	size_t done = 0;
	ssize_t n;
	int w;

	while (done < len) {
		n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return XFER_NETERR;
		w = wait_fd(fd, POLLOUT, deadline);
		if (w == 0)
			return XFER_TIMEOUT;
		if (w < 0)
			return XFER_NETERR;
	}
	return XFER_OK;
}

/* Read exactly len bytes before the deadline. */
static enum xfer_result read_all(int fd, uint8_t *buf, size_t len,
				 int64_t deadline)
{
	size_t done = 0;
	ssize_t n;
	int w;

	while (done < len) {
		n = recv(fd, buf + done, len - done, 0);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0) {
			/* The server closed mid-message. */
			errno = ECONNRESET;
			return XFER_NETERR;
		}
		if (errno != EAGAIN && errno != EINTR)
			return XFER_NETERR;
		w = wait_fd(fd, POLLIN, deadline);
		if (w == 0)
			return XFER_TIMEOUT;
		if (w < 0)
			return XFER_NETERR;
	}
	return XFER_OK;
}

/* One query over TCP with the 2-byte length prefix (RFC 1035 4.2.2). A
 * reply that accept() rejects is a failure: on a fresh connection of our
 * own there is no one else whose answer it could be. */
static enum xfer_result xfer_tcp(const struct addrinfo *ai, const uint8_t *msg,
				 size_t len, int64_t deadline,
				 bool (*accept)(void *ctx, const uint8_t *m, size_t n),
				 void *ctx, uint8_t *buf, size_t *buf_len)
{
	enum xfer_result res = XFER_NETERR;
	uint8_t *framed = NULL;
	uint8_t hdr[2];
	size_t mlen;
	socklen_t elen = sizeof(int);
	int err = 0;
	int fd = -1;
	int w;

	framed = malloc(len + 2);
	if (framed == NULL)
		goto out;
	framed[0] = (uint8_t)(len >> 8);
	framed[1] = (uint8_t)(len & 0xff);
	memcpy(framed + 2, msg, len);

	fd = open_socket(ai, SOCK_STREAM);
	if (fd < 0)
		goto out;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS)
			goto out;
		w = wait_fd(fd, POLLOUT, deadline);
		if (w == 0) {
			res = XFER_TIMEOUT;
			goto out;
		}
		if (w < 0)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
			goto out;
		if (err != 0) {
			errno = err;
			goto out;
		}
	}
	res = write_all(fd, framed, len + 2, deadline);
	if (res != XFER_OK)
		goto out;
	res = read_all(fd, hdr, sizeof(hdr), deadline);
	if (res != XFER_OK)
		goto out;
	mlen = (size_t)hdr[0] << 8 | hdr[1];
	res = read_all(fd, buf, mlen, deadline);
	if (res != XFER_OK)
		goto out;
	if (!accept(ctx, buf, mlen)) {
		res = XFER_BADREPLY;
		goto out;
	}
	*buf_len = mlen;
	res = XFER_OK;
out:
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	free(framed);
	return res;
}

/* What a reply must match: the ID and the question we sent. */
struct expect {
	uint16_t id;
	const ldns_rdf *qname;
	ldns_rr_type qtype;
};

/* Cheap ID check on the raw bytes first, then a full parse: a reply is ours
 * only if QR is set and it repeats our one question (RFC 5452 9.1; names
 * compare case-insensitively, RFC 4343). */
static bool reply_matches(void *ctx, const uint8_t *m, size_t n)
{
	const struct expect *e = ctx;
	ldns_pkt *p = NULL;
	const ldns_rr *q;
	bool ok = false;

	if (n < LDNS_HEADER_SIZE || LDNS_ID_WIRE(m) != e->id || !LDNS_QR_WIRE(m))
		goto out;
	if (ldns_wire2pkt(&p, m, n) != LDNS_STATUS_OK)
		goto out;
	if (ldns_pkt_qdcount(p) != 1)
		goto out;
	q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	if (q == NULL || ldns_rr_get_type(q) != e->qtype ||
	    ldns_rr_get_class(q) != LDNS_RR_CLASS_IN ||
	    ldns_dname_compare(ldns_rr_owner(q), e->qname) != 0)
		goto out;
	ok = true;
out:
	ldns_pkt_free(p);
	return ok;
}

/* Print an RR as one line: ldns separates fields with tabs and ends with a
 * newline; a single space reads better in a terminal and greps easily. */
static void print_rr(const ldns_rr *rr)
{
	char *s = ldns_rr2str(rr);
	size_t len;
	char *c;

	if (s == NULL)
		return;
	for (c = s; *c != '\0'; c++)
		if (*c == '\t')
			*c = ' ';
	len = strlen(s);
	while (len > 0 && s[len - 1] == '\n')
		s[--len] = '\0';
	printf("%s\n", s);
	free(s);
}

static void print_type(ldns_rr_type type)
{
	char *s = ldns_rr_type2str(type);

	fputs(s != NULL ? s : "?", stdout);
	free(s);
}

/* Print the answer section (the whole CNAME chain as the server sent it)
 * or the reason there is none. */
static enum query_outcome report(const char *name, ldns_rr_type type,
				 const ldns_pkt *p)
{
	const ldns_rr_list *an = ldns_pkt_answer(p);
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(p);
	bool have_type = false;
	size_t i;
	char *rs;

	switch (rc) {
	case LDNS_RCODE_NOERROR:
		break;
	case LDNS_RCODE_NXDOMAIN:
		printf("%s: not found (NXDOMAIN)\n", name);
		return QUERY_FAILED;
	case LDNS_RCODE_SERVFAIL:
		printf("%s: server failure (SERVFAIL)\n", name);
		return QUERY_FAILED;
	case LDNS_RCODE_REFUSED:
		printf("%s: query refused (REFUSED)\n", name);
		return QUERY_FAILED;
	default:
		rs = ldns_pkt_rcode2str(rc);
		printf("%s: error (%s)\n", name, rs != NULL ? rs : "?");
		free(rs);
		return QUERY_FAILED;
	}
	for (i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);

		print_rr(rr);
		if (type == LDNS_RR_TYPE_ANY || ldns_rr_get_type(rr) == type)
			have_type = true;
	}
	if (!have_type) {
		/* NODATA (RFC 2308 2.2), possibly at the end of a CNAME chain. */
		printf("%s: no ", name);
		print_type(type);
		printf(" records\n");
	}
	return QUERY_OK;
}

/* Resolve the server address once per lookup (cheap for numeric hosts). */
static int resolve_server(const struct query_cfg *cfg, struct addrinfo **res)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	return getaddrinfo(cfg->server, cfg->port, &hints, res);
}

static enum query_outcome lookup(const struct query_cfg *cfg, const char *name,
				 ldns_rr_type type)
{
	enum query_outcome outcome = QUERY_FAILED;
	enum xfer_result xr;
	struct addrinfo *ai = NULL;
	ldns_rdf *qname = NULL;
	ldns_pkt *q = NULL;
	ldns_pkt *r = NULL;
	uint8_t *wire = NULL;
	uint8_t *buf = NULL;
	size_t wire_len = 0;
	size_t buf_len = 0;
	struct expect e;
	uint16_t id;
	int64_t deadline;
	bool tcp = cfg->tcp_only;
	int gai;

	qname = ldns_dname_new_frm_str(name);
	if (qname == NULL) {
		printf("%s: invalid name\n", name);
		goto out;
	}
	gai = resolve_server(cfg, &ai);
	if (gai != 0) {
		printf("%s: cannot resolve server %s: %s\n", name, cfg->server,
		       gai_strerror(gai));
		goto out;
	}
	if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		printf("%s: no random query ID: %s\n", name, strerror(errno));
		goto out;
	}
	q = ldns_pkt_query_new(ldns_rdf_clone(qname), type, LDNS_RR_CLASS_IN,
			       LDNS_RD);
	if (q == NULL) {
		printf("%s: out of memory\n", name);
		goto out;
	}
	ldns_pkt_set_id(q, id);
	if (cfg->bufsize > 0)
		ldns_pkt_set_edns_udp_size(q, cfg->bufsize);
	if (ldns_pkt2wire(&wire, q, &wire_len) != LDNS_STATUS_OK) {
		printf("%s: cannot encode the query\n", name);
		goto out;
	}
	buf = malloc(QUERY_MAX_MSG);
	if (buf == NULL) {
		printf("%s: out of memory\n", name);
		goto out;
	}
	e.id = id;
	e.qname = qname;
	e.qtype = type;
	deadline = now_ms() + cfg->timeout_ms;
	for (;;) {
		xr = tcp ? xfer_tcp(ai, wire, wire_len, deadline, reply_matches, &e,
				    buf, &buf_len)
			 : xfer_udp(ai, wire, wire_len, deadline, reply_matches, &e,
				    buf, &buf_len);
		if (xr != XFER_OK)
			break;
		/* A truncated answer is retried over TCP (RFC 7766 5). */
		if (!tcp && LDNS_TC_WIRE(buf)) {
			tcp = true;
			continue;
		}
		break;
	}
	switch (xr) {
	case XFER_OK:
		break;
	case XFER_TIMEOUT:
		printf("%s: timed out after %d ms (server %s port %s%s)\n", name,
		       cfg->timeout_ms, cfg->server, cfg->port, tcp ? ", TCP" : "");
		goto out;
	case XFER_NETERR:
		printf("%s: cannot reach server %s port %s%s: %s\n", name,
		       cfg->server, cfg->port, tcp ? " over TCP" : "",
		       strerror(errno));
		goto out;
	case XFER_BADREPLY:
		printf("%s: malformed or mismatched reply from server\n", name);
		goto out;
	}
	if (ldns_wire2pkt(&r, buf, buf_len) != LDNS_STATUS_OK) {
		printf("%s: malformed reply from server\n", name);
		goto out;
	}
	outcome = report(name, type, r);
out:
	fflush(stdout);
	ldns_pkt_free(r);
	ldns_pkt_free(q);
	ldns_rdf_deep_free(qname);
	free(wire);
	free(buf);
	if (ai != NULL)
		freeaddrinfo(ai);
	return outcome;
}

/* Split a line in place into up to two words. Returns the word count (3
 * means "too many"). */
static int split_words(char *line, char **w1, char **w2)
{
	char *save = NULL;
	char *a = strtok_r(line, " \t\r\n", &save);
	char *b = a != NULL ? strtok_r(NULL, " \t\r\n", &save) : NULL;

	*w1 = a;
	*w2 = b;
	if (a == NULL)
		return 0;
	if (b == NULL)
		return 1;
	return strtok_r(NULL, " \t\r\n", &save) != NULL ? 3 : 2;
}

/* The original design's prompt loop. The prompt goes to stdout only when
 * stdin is a terminal, so `printf 'a\nb\n' | tierdns-query` prints just the
 * answers. */
static int interactive(const struct query_cfg *cfg)
{
	bool tty = isatty(STDIN_FILENO) == 1;
	bool eof = false;
	char *line = NULL;
	size_t cap = 0;
	char *name;
	char *tname;
	ldns_rr_type type;
	int words;

	for (;;) {
		if (tty) {
			fputs(QUERY_PROMPT, stdout);
			fflush(stdout);
		}
		if (getline(&line, &cap, stdin) < 0) {
			eof = true;
			break;
		}
		words = split_words(line, &name, &tname);
		if (words == 0 || name[0] == '#')
			continue;
		if (strcasecmp(name, "exit") == 0 || strcasecmp(name, "quit") == 0)
			break;
		if (words > 2) {
			printf("usage: NAME [TYPE]\n");
			continue;
		}
		type = cfg->type;
		if (tname != NULL && !parse_type(tname, &type)) {
			printf("%s: unknown record type\n", tname);
			continue;
		}
		lookup(cfg, name, type);
	}
	/* After Ctrl-D the cursor is still on the prompt line. */
	if (tty && eof)
		fputs("\n", stdout);
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_TCP = 256, OPT_TIMEOUT, OPT_BUFSIZE };
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "tcp", no_argument, NULL, OPT_TCP },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "bufsize", required_argument, NULL, OPT_BUFSIZE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct query_cfg cfg = {
		.server = QUERY_DEFAULT_SERVER,
		.port = QUERY_DEFAULT_PORT,
		.type = LDNS_RR_TYPE_A,
		.tcp_only = false,
		.timeout_ms = QUERY_DEFAULT_TIMEOUT_MS,
		.bufsize = QUERY_DEFAULT_BUFSIZE,
	};
	unsigned long v;
	int failed = 0;
	int c;
	int i;

	while ((c = getopt_long(argc, argv, "s:p:t:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			cfg.server = optarg;
			break;
		case 'p':
			if (!parse_uint(optarg, 65535, &v) || v == 0) {
				fprintf(stderr, "tierdns-query: bad port '%s'\n", optarg);
				return 2;
			}
			cfg.port = optarg;
			break;
		case 't':
			if (!parse_type(optarg, &cfg.type)) {
				fprintf(stderr, "tierdns-query: unknown type '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_TCP:
			cfg.tcp_only = true;
			break;
		case OPT_TIMEOUT:
			if (!parse_uint(optarg, INT_MAX / 2, &v) || v == 0) {
				fprintf(stderr, "tierdns-query: bad timeout '%s'\n", optarg);
				return 2;
			}
			cfg.timeout_ms = (int)v;
			break;
		case OPT_BUFSIZE:
			/* RFC 6891 6.2.5: values below 512 are treated as 512. */
			if (!parse_uint(optarg, 65535, &v) || (v != 0 && v < 512)) {
				fprintf(stderr, "tierdns-query: bad bufsize '%s' (0 or 512-65535)\n",
					optarg);
				return 2;
			}
			cfg.bufsize = (uint16_t)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("tierdns-query %s\n", TDNS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc)
		return interactive(&cfg);
	for (i = optind; i < argc; i++)
		if (lookup(&cfg, argv[i], cfg.type) != QUERY_OK)
			failed = 1;
	return failed;
}
