/*
 * log.c - see log.h. The line is formatted once; the target decides what
 * of it is written: stderr gets the time, program and level in front,
 * syslog and the journal add those themselves and get the priority.
 */
#include "tierdns/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define SD_JOURNAL_SUPPRESS_LOCATION /* the call site would always be log.c */
#include <systemd/sd-journal.h>

static const char *log_prog = "tierdns";
static _Atomic int log_level = TDNS_LOG_INFO;
static _Atomic int log_target = TDNS_LOG_STDERR;

void log_init(const char *prog, enum tdns_log_level level)
{
	if (prog != NULL)
		log_prog = prog;
	atomic_store(&log_level, (int)level);
}

void log_set_level(enum tdns_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum tdns_log_level log_get_level(void)
{
	return (enum tdns_log_level)atomic_load(&log_level);
}

enum tdns_log_level log_level_for(int verbosity)
{
	return verbosity >= 1 ? TDNS_LOG_DEBUG : TDNS_LOG_INFO;
}

const char *log_target_name(enum tdns_log_target target)
{
	switch (target) {
	case TDNS_LOG_SYSLOG: return "syslog";
	case TDNS_LOG_JOURNAL: return "journal";
	case TDNS_LOG_STDERR: break;
	}
	return "stderr";
}

void log_set_target(enum tdns_log_target target)
{
	enum tdns_log_target old = log_get_target();

	if (target == old)
		return;
	/* Open before the switch, close after it: a line logged meanwhile
	 * finds its target ready (syslog(3) would reopen it anyway). */
	if (target == TDNS_LOG_SYSLOG)
		openlog(log_prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_target, (int)target);
	if (old == TDNS_LOG_SYSLOG)
		closelog();
}

enum tdns_log_target log_get_target(void)
{
	return (enum tdns_log_target)atomic_load(&log_target);
}

static void write_stderr(const char *line, size_t n)
{
	/* One write per line so lines of concurrent threads never interleave. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void log_msg(enum tdns_log_level level, const char *fmt, ...)
{
	static const char *names[] = { "error", "warning", "info", "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	enum tdns_log_target target;
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m, body;

	if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	target = log_get_target();
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02dZ %s[%d]: %s: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, log_prog, (int)getpid(), names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	body = n;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n] = '\0';
	switch (target) {
	case TDNS_LOG_SYSLOG:
		syslog(prio[level], "%s", line + body);
		return;
	case TDNS_LOG_JOURNAL:
		if (sd_journal_print(prio[level], "%s", line + body) >= 0)
			return;
		break;
	case TDNS_LOG_STDERR:
		break;
	}
	line[n++] = '\n';
	write_stderr(line, (size_t)n);
}
