/* SPDX-License-Identifier: MIT */
/*
 * A control request's arguments checked against its command's spec
 * (struct control_arg, control.h): the server checks every request so a
 * handler only ever sees arguments its own control_args_unpack accepts.
 */
#ifndef VMIG_VMM_CONTROL_ARGS_H
#define VMIG_VMM_CONTROL_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/control.h"

/*
 * A request that held an integer beyond int64, which Jansson cannot hold,
 * is parsed again with every integer read as a double (control_request.h),
 * only to say what is wrong with it. key: the argument whose value is that
 * integer (NULL if it is elsewhere); negative: below INT64_MIN.
 */
struct control_big_int {
	const char *key;
	bool negative;
};

/* control_args_unpack, also for a loosely parsed request (big not NULL,
 * dest NULL). 0, or -EINVAL with what is wrong, naming the argument. */
int control_args_check(const char *cmd, const json_t *args, const struct control_arg *spec,
		       void *dest, const struct control_big_int *big, char *err, size_t errlen);

#endif
