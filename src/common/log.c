/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The only process-wide setting: written once at start-up, read after. */
static enum log_level current_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	char line[1024];
	va_list ap;
	int n;

	if (level > current_level)
		return;
	n = snprintf(line, sizeof(line), "vmig: %s: ", level == LOG_INFO ? "" : names[level]);
	if (level == LOG_INFO)
		n = snprintf(line, sizeof(line), "vmig: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines from several threads do not interleave. */
	size_t len = strlen(line);
	if (len + 1 < sizeof(line)) {
		line[len] = '\n';
		line[len + 1] = 0;
	}
	fputs(line, stderr);
}
