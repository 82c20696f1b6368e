/*
 * tierdns-control - send one command to a running tierdns-upper or
 * tierdns-local over its control socket (control.h has the protocol).
 *
 *   tierdns-control [-s SOCKET | --upper] COMMAND [ARG...]
 *
 * The daemon's output goes to stdout; its error line to stderr.
 * Exit status: 0 ok, 1 the command failed or the daemon could not be
 * reached, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tierdns/control.h"
#include "tierdns/opts.h"

#define EXIT_USAGE 2
#define READ_TIMEOUT_S 30

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tierdns-control [-s SOCKET | -c CONFIG] [--upper] COMMAND [ARG...]\n"
		"\n"
		"Control a running tierdns-upper or tierdns-local.\n"
		"\n"
		"commands:\n"
		"  status                    version, uptime, workers, store, zones\n"
		"  stats [--reset]           counters summed over the workers (--reset:\n"
		"                            the next stats count from now)\n"
		"  reload                    what SIGHUP does\n"
		"  zone list                 the zones in the store\n"
		"  zone status NAME          one zone: serial, counts, load time\n"
		"  zone reload NAME          a secondary zone: check its primaries now\n"
		"  zone remove NAME          remove the zone from the store (its\n"
		"                            names become REFUSED on the upper)\n"
		"  cache flush NAME [TYPE]   remove the cached answers for NAME (one\n"
		"                            TYPE, or all types)             (local)\n"
		"  cache flush-zone NAME     remove every cached answer at and below NAME\n"
		"  cache flush-negative      remove every cached NXDOMAIN and NODATA\n"
		"  cache flush-all           empty the cache\n"
		"  cache dump                the cache as master-file text, remaining TTLs\n"
		"  log-level LEVEL           err, warn, info or debug\n"
		"  stop                      stop the daemon (as SIGTERM)\n"
		"\n"
		"options:\n"
		"  -s, --socket PATH   the daemon's control socket\n"
		"                      (default %s)\n"
		"  -c, --config FILE   the socket the daemon's configuration file names\n"
		"                      (control: socket:, else its default; with --upper\n"
		"                      an upper's file)\n"
		"      --upper         the upper's default socket (%s)\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n"
		"\n"
		"exit status: 0 ok, 1 the command failed or the daemon could not be\n"
		"reached, 2 usage error\n",
		CONTROL_DEFAULT_LOCAL, CONTROL_DEFAULT_UPPER);
}

static int usage_line(const char *msg, const char *arg)
{
	fprintf(stderr, "tierdns-control: %s%s; see tierdns-control --help\n", msg, arg);
	return EXIT_USAGE;
}

/* Connect to path; -1 (and a line on stderr saying what to check) on failure. */
static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = READ_TIMEOUT_S };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "tierdns-control: %s: path too long\n", path);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "tierdns-control: cannot connect to %s: %s%s\n", path,
			strerror(errno),
			errno == ENOENT || errno == ECONNREFUSED
				? " (is the daemon running? -s names another socket)"
				: errno == EACCES ? " (the socket's group may use it: run as "
						    "root or a member)"
						  : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static bool write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Print the daemon's output lines; the last line is the status. */
static int read_reply(int fd)
{
	char *line = NULL, *prev = NULL;
	size_t cap = 0;
	FILE *in;
	int rc = 1;

	in = fdopen(fd, "r");
	if (in == NULL) {
		close(fd);
		return 1;
	}
	/* One line behind: only the last one is the status. */
	while (getline(&line, &cap, in) > 0) {
		if (prev != NULL)
			fputs(prev, stdout);
		free(prev);
		prev = line;
		line = NULL;
		cap = 0;
	}
	if (ferror(in)) {
		fprintf(stderr, "tierdns-control: reading the answer: %s\n",
			errno == EAGAIN ? "timed out" : strerror(errno));
	} else if (prev == NULL) {
		fprintf(stderr, "tierdns-control: the daemon closed the connection "
			"without an answer\n");
	} else if (strcmp(prev, "ok\n") == 0) {
		rc = 0;
	} else if (strncmp(prev, "error: ", 7) == 0) {
		fprintf(stderr, "tierdns-control: %s", prev + 7);
	} else {
		fputs(prev, stdout);
		fprintf(stderr, "tierdns-control: the answer ended without a status "
			"line\n");
	}
	free(line);
	free(prev);
	fclose(in);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "upper", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = CONTROL_DEFAULT_LOCAL, *config = NULL, *sock = NULL;
	enum tdns_prog prog = TDNS_PROG_LOCAL;
	struct tdns_opts o;
	static char cfg_sock[4096];
	char err[512];
	char req[CONTROL_LINE_MAX + 2];
	size_t used;
	int c, fd, i, first;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+s:c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'U':
			path = CONTROL_DEFAULT_UPPER;
			prog = TDNS_PROG_UPPER;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("tierdns-control %s\n", TDNS_VERSION);
			return 0;
		default:
			return usage_line("unknown option or missing value: ",
					  argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_line("a command is required (status, stats, reload, zone, "
				  "cache, log-level, stop)", "");
	if (sock != NULL && config != NULL)
		return usage_line("-s and -c exclude each other", "");
	first = optind; /* opts_load runs getopt again */
	if (sock != NULL) {
		path = sock;
	} else if (config != NULL) {
		/* The daemon's own reading of the file: the same socket. */
		char *cargv[] = { (char *)"tierdns-control", (char *)"-c", (char *)config, NULL };

		if (opts_load(prog, 3, cargv, &o, err, sizeof(err)) != OPTS_RUN) {
			fprintf(stderr, "tierdns-control: %s\n", err);
			return EXIT_USAGE;
		}
		if (o.control_path == NULL) {
			opts_free(&o);
			fprintf(stderr, "tierdns-control: %s names no control socket "
				"(control: socket: ~)\n", config);
			return 1;
		}
		if (snprintf(cfg_sock, sizeof(cfg_sock), "%s", o.control_path) >=
		    (int)sizeof(cfg_sock)) {
			opts_free(&o);
			return usage_line("the socket path is too long", "");
		}
		opts_free(&o);
		path = cfg_sock;
	}
	used = (size_t)snprintf(req, sizeof(req), "%s", CONTROL_PROTO);
	for (i = first; i < argc; i++) {
		if (argv[i][0] == '\0' || strpbrk(argv[i], " \t\r\n") != NULL)
			return usage_line("arguments may not be empty or hold spaces: ",
					  argv[i]);
		if (used + 1 + strlen(argv[i]) + 1 > sizeof(req) - 1)
			return usage_line("the command is too long", "");
		used += (size_t)snprintf(req + used, sizeof(req) - used, " %s", argv[i]);
	}
	req[used++] = '\n';
	fd = connect_to(path);
	if (fd < 0)
		return 1;
	if (!write_all(fd, req, used)) {
		fprintf(stderr, "tierdns-control: sending to %s: %s\n", path,
			strerror(errno));
		close(fd);
		return 1;
	}
	return read_reply(fd);
}
