/* SPDX-License-Identifier: MIT */
/* Minimal leveled logging to stderr, prefixed with the program name. */
#ifndef VMIG_LOG_H
#define VMIG_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set once at start-up from the command line (-v / VMIG_LOG=debug). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                   \
	do {                                                             \
		if (log_get_level() >= LOG_DEBUG)                        \
			log_msg(LOG_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif
