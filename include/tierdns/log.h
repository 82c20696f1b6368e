/*
 * log.h - leveled logging: "<time> <prog>[pid]: <level>: message" on
 * stderr, or the message alone to syslog(3) or the systemd journal.
 * Thread-safe (one write(2), syslog(3) or sd_journal_print(3) per line;
 * the target and level may change while other threads log). No allocation.
 */
#ifndef TIERDNS_LOG_H
#define TIERDNS_LOG_H

enum tdns_log_level {
	TDNS_LOG_ERR = 0,
	TDNS_LOG_WARN = 1,
	TDNS_LOG_INFO = 2,
	TDNS_LOG_DEBUG = 3,
};

/* Where lines go (config key log:, flag --log). */
enum tdns_log_target {
	TDNS_LOG_STDERR = 0,
	TDNS_LOG_SYSLOG,   /* syslog(3), facility daemon, ident prog, with the pid */
	/* sd_journal_print(3), with the priority; a line the journal does not
	 * take (no journald socket: not under systemd) goes to stderr, so
	 * nothing is lost. */
	TDNS_LOG_JOURNAL,
};

/* prog is kept by pointer: pass a string literal or argv[0]. */
void log_init(const char *prog, enum tdns_log_level level);
void log_set_level(enum tdns_log_level level);
enum tdns_log_level log_get_level(void);
/* Switch the target (opening or closing the syslog connection). */
void log_set_target(enum tdns_log_target target);
enum tdns_log_target log_get_target(void);
/* The level a verbosity means (-v count, verbosity: N): 0 info, 1+ debug. */
enum tdns_log_level log_level_for(int verbosity);
/* "stderr", "syslog", "journal". */
const char *log_target_name(enum tdns_log_target target);

void log_msg(enum tdns_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(TDNS_LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(TDNS_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(TDNS_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(TDNS_LOG_DEBUG, __VA_ARGS__)

#endif
