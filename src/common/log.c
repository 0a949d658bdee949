/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The process-wide settings: written at start-up (vmig_set_log_handler,
 * log_set_level), read after; vmig.h says so to embedders. */
static enum vmig_log_level current_level = VMIG_LOG_INFO;
static vmig_log_fn handler;
static void *handler_opaque;

void log_set_level(enum vmig_log_level level)
{
	current_level = level;
}

enum vmig_log_level log_get_level(void)
{
	return current_level;
}

VMIG_API void vmig_set_log_handler(vmig_log_fn fn, void *opaque, enum vmig_log_level max_level)
{
	handler = fn;
	handler_opaque = opaque;
	current_level = max_level;
}

VMIG_API const char *vmig_version(void)
{
#define VMIG_STR2(x) #x
#define VMIG_STR(x) VMIG_STR2(x)
	return VMIG_STR(VMIG_VERSION_MAJOR) "." VMIG_STR(VMIG_VERSION_MINOR) "." VMIG_STR(
		VMIG_VERSION_PATCH);
}

void log_msg(enum vmig_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error: ", "warning: ", "", "debug: "};
	char line[1024];
	va_list ap;

	if (level > current_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (handler) {
		handler(handler_opaque, level, line);
		return;
	}
	/* One write per line so lines from several threads do not interleave. */
	fprintf(stderr, "vmig: %s%s\n", names[level], line);
}
