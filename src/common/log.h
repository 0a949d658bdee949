/* SPDX-License-Identifier: MIT */
/* Leveled logging: stderr by default, or the embedder's handler (vmig.h). */
#ifndef VMIG_LOG_H
#define VMIG_LOG_H

#include <stdarg.h>

#include "vmig/vmig.h"

/* Set once at start-up from the command line (-v / VMIG_LOG=debug). */
void log_set_level(enum vmig_log_level level);
enum vmig_log_level log_get_level(void);

void log_msg(enum vmig_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(VMIG_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(VMIG_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(VMIG_LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                   \
	do {                                                             \
		if (log_get_level() >= VMIG_LOG_DEBUG)                   \
			log_msg(VMIG_LOG_DEBUG, __VA_ARGS__);            \
	} while (0)

#endif
