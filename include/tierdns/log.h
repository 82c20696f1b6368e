/*
 * log.h - leveled logging to stderr: "<time> <prog>[pid]: <level>: message".
 * Thread-safe (one write(2) per line). No allocation.
 */
#ifndef TIERDNS_LOG_H
#define TIERDNS_LOG_H

enum tdns_log_level {
	TDNS_LOG_ERR = 0,
	TDNS_LOG_WARN = 1,
	TDNS_LOG_INFO = 2,
	TDNS_LOG_DEBUG = 3,
};

/* prog is kept by pointer: pass a string literal or argv[0]. */
void log_init(const char *prog, enum tdns_log_level level);
void log_set_level(enum tdns_log_level level);
enum tdns_log_level log_get_level(void);

void log_msg(enum tdns_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(TDNS_LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(TDNS_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(TDNS_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(TDNS_LOG_DEBUG, __VA_ARGS__)

#endif
