/* SPDX-License-Identifier: MIT */
/*
 * One control request line parsed (Jansson), with what Jansson does not
 * keep read from the raw text: the id, echoed exactly as the client wrote
 * it, and where an integer beyond int64 lies, so the error can name the
 * argument. The line comes from anyone who can reach the socket: any
 * bytes at all get a reason, never a crash.
 */
#ifndef VMIG_VMM_CONTROL_REQUEST_H
#define VMIG_VMM_CONTROL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/json.h"

struct control_request {
	json_t *root;    /* the parsed line */
	char *id;        /* the id's text (malloc'd), or NULL */
	bool loose;      /* root has integers as doubles, as one is beyond int64 */
	json_t *big_key; /* loose: the argument (a JSON string) holding it, or NULL */
	bool big_negative;
};

/* Nothing but JSON whitespace: a line to ignore. */
bool control_line_blank(const char *s, size_t len);

/*
 * Parse a request line into rq (zeroed by the caller). Jansson cannot hold
 * an integer beyond int64 (json_error_numeric_overflow). In the id that
 * does no harm, as the id is echoed from the text: the line is parsed
 * again with the id blanked out. Anywhere else it is refused, naming the
 * argument: the line is then read with integers as doubles (rq->loose),
 * only to learn what it asks. Returns 0, -EINVAL with the reason in msg
 * (not JSON), or -ENOMEM. rq holds what to free either way.
 */
int control_request_parse(const char *line, size_t len, struct control_request *rq, char *msg,
			  size_t msglen);

void control_request_free(struct control_request *rq);

#endif
