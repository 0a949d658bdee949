/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the control client (src/common/control_client.c) hearing a
 * hostile VMM, as `vmig migrate` does: a "migrate" call, then
 * "query-migrate" until the status is final, a call fails or
 * FUZZ_CTL_MAX_CALLS were made. The client talks over a socketpair to a
 * fake VMM that answers with the input (fuzz_control_client_input.h):
 * chunk k after the client's k-th request line, FUZZ_CTL_ID replaced by
 * that request's id so that replies can answer it.
 *
 * Invariants checked besides the sanitizers (docs/fuzzing.md): a call
 * returns 0 or one of the errors control_client.h documents, with a
 * message on failure and the reply's "return" handed over on success;
 * no call outlasts its timeout by more than FUZZ_CTL_SLACK_MS.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/control_client.h"
#include "fuzz_control_client_input.h"
#include "fuzz_target.h"

#define FUZZ_CTL_TIMEOUT_MS 1000 /* per call; the fake VMM's quiet rule answers sooner */
#define FUZZ_CTL_SLACK_MS 2000	 /* a loaded host's scheduling, not a hang */

/* The fake VMM's side: the input's chunks, let go one per request. */
struct fake_vmm {
	const uint8_t *data;
	size_t len, next; /* the next chunk starts at data + next */
	bool all_released;
	int fd, stop_fd;
	struct vbuf request; /* the client's current request line, so far */
	struct vbuf out;     /* let go, not yet written */
	size_t written;
	bool hung_up;
	uint64_t last_activity_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The id of a request line: the digits after "id": (the client writes it). */
static uint64_t request_id(const struct vbuf *line)
{
	const char *p = memmem(line->data, line->len, "\"id\":", 5);
	uint64_t id = 0;
	for (p = p ? p + 5 : NULL; p && p < (const char *)line->data + line->len; p++) {
		if (*p >= '0' && *p <= '9')
			id = id * 10 + (uint64_t)(*p - '0');
		else if (*p != ' ')
			break;
	}
	return id;
}

/* Lets the next chunk go, with the request's id in place of FUZZ_CTL_ID;
 * and the chunks after it while the text let go ends inside a line (the
 * client waits for the rest: no request would come). */
static void release_next(struct fake_vmm *v, uint64_t id)
{
	char idtext[24];
	snprintf(idtext, sizeof(idtext), "%" PRIu64, id);
	do {
		const uint8_t *start = v->data + v->next, *end = v->data + v->len;
		const uint8_t *sep = memmem(start, (size_t)(end - start), FUZZ_TURN_SEP,
					    FUZZ_TURN_SEP_LEN);
		const uint8_t *chunk_end = sep ? sep : end;
		for (const uint8_t *p = start; p < chunk_end;) {
			const uint8_t *hole = memmem(p, (size_t)(chunk_end - p), FUZZ_CTL_ID,
						     FUZZ_CTL_ID_LEN);
			const uint8_t *upto = hole ? hole : chunk_end;
			vbuf_put(&v->out, p, (size_t)(upto - p));
			if (hole)
				vbuf_put(&v->out, idtext, strlen(idtext));
			p = hole ? hole + FUZZ_CTL_ID_LEN : chunk_end;
		}
		v->next = sep ? (size_t)(sep + FUZZ_TURN_SEP_LEN - v->data) : v->len;
		v->all_released = !sep;
	} while (!v->all_released && v->out.len && v->out.data[v->out.len - 1] != '\n');
	FUZZ_ASSERT(!v->out.oom);
}

static void flush(struct fake_vmm *v)
{
	if (v->written < v->out.len) {
		ssize_t w = send(v->fd, v->out.data + v->written, v->out.len - v->written,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0)
			v->written += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			v->written = v->out.len; /* the client is gone */
	}
	if (v->all_released && v->written == v->out.len && !v->hung_up) {
		shutdown(v->fd, SHUT_WR);
		v->hung_up = true;
	}
}

/* Reads the client's bytes; each complete request line lets a chunk go. */
static void hear_client(struct fake_vmm *v)
{
	char buf[4096];
	ssize_t r = read(v->fd, buf, sizeof(buf));
	for (ssize_t i = 0; i < r; i++) {
		if (buf[i] != '\n') {
			vbuf_put(&v->request, &buf[i], 1);
			continue;
		}
		if (!v->all_released)
			release_next(v, request_id(&v->request));
		vbuf_reset(&v->request);
	}
}

/* Quiet: the client read all we wrote and sent nothing for a while. */
static bool quiet(const struct fake_vmm *v, uint64_t now)
{
	int unread = 0;
	return !v->hung_up && v->written == v->out.len &&
	       now - v->last_activity_ms >= FUZZ_CTL_QUIET_MS &&
	       ioctl(v->fd, SIOCOUTQ, &unread) == 0 && unread == 0;
}

static void *fake_vmm_thread(void *arg)
{
	struct fake_vmm *v = arg;
	for (;;) {
		short ev = POLLIN | (v->written < v->out.len ? POLLOUT : 0);
		struct pollfd p[2] = {{.fd = v->stop_fd, .events = POLLIN}, {.fd = v->fd, .events = ev}};
		if (poll(p, 2, FUZZ_CTL_QUIET_MS / 4) < 0 && errno != EINTR)
			return NULL;
		if (p[0].revents)
			return NULL;
		uint64_t now = now_ms();
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			hear_client(v);
			v->last_activity_ms = now;
		}
		if (quiet(v, now) && !v->all_released) { /* it waits for what will not come */
			release_next(v, 0);
			v->last_activity_ms = now;
		}
		flush(v);
	}
}

static bool documented(int r)
{
	switch (-r) {
	case 0: case EOPNOTSUPP: case EINVAL: case EREMOTEIO: case ETIMEDOUT:
	case EPIPE: case ECONNRESET: case EPROTO: case ENOMEM:
		return true;
	}
	return false;
}

static bool is_final(const char *st)
{
	static const char *const final[] = {"completed", "failed", "cancelled", "unconfirmed", "none"};
	for (size_t i = 0; st && i < sizeof(final) / sizeof(final[0]); i++)
		if (!strcmp(st, final[i]))
			return true;
	return false;
}

/* One call as `vmig migrate` makes it; whether the client goes on. */
static bool call(int fd, const char *command, json_t *args, json_t **reply)
{
	char err[512];
	memset(err, 'x', sizeof(err)); /* whatever the call leaves must be a string */
	uint64_t t0 = now_ms();
	int r = control_call_timeout(fd, command, args, FUZZ_CTL_TIMEOUT_MS, reply, err,
				     sizeof(err));
	FUZZ_ASSERT(now_ms() - t0 < FUZZ_CTL_TIMEOUT_MS + FUZZ_CTL_SLACK_MS);
	FUZZ_ASSERT(documented(r));
	if (getenv("FUZZ_CONTROL_CLIENT_VERBOSE"))
		fprintf(stderr, "fuzz_control_client: %s: %d %s\n", command, r, r ? err : "ok");
	if (r) {
		FUZZ_ASSERT(memchr(err, 0, sizeof(err)) && err[0]);
		FUZZ_ASSERT(!*reply);
		/* an error reply leaves the connection usable; anything else does not */
		return r == -EOPNOTSUPP || r == -EINVAL || r == -EREMOTEIO;
	}
	FUZZ_ASSERT(*reply);
	return true;
}

static void client(int fd)
{
	json_t *args = json_pack("{s:s, s:s}", "uri", "tcp:192.0.2.1:4444", "codec", "zstd");
	json_t *reply = NULL;
	FUZZ_ASSERT(args);
	bool go_on = call(fd, "migrate", args, &reply);
	json_decref(args);
	json_decref(reply);
	for (unsigned i = 1; go_on && i < FUZZ_CTL_MAX_CALLS; i++) {
		reply = NULL;
		go_on = call(fd, "query-migrate", NULL, &reply);
		/* as the CLI reads it: a status string, numbers, nested objects */
		const char *st = json_string_value(json_object_get(reply, "status"));
		json_number_value(json_object_get(json_object_get(reply, "pages"), "normal"));
		json_array_size(json_object_get(json_object_get(reply, "policy"), "decisions"));
		if (is_final(st))
			go_on = false;
		json_decref(reply);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	pthread_t t;
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	struct fake_vmm v = {.data = data, .len = size, .fd = sv[1],
			     .stop_fd = eventfd(0, EFD_CLOEXEC), .last_activity_ms = now_ms()};
	FUZZ_ASSERT(v.stop_fd >= 0);
	vbuf_init(&v.request);
	vbuf_init(&v.out);
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	FUZZ_ASSERT(pthread_create(&t, NULL, fake_vmm_thread, &v) == 0);
	client(sv[0]);
	uint64_t one = 1;
	FUZZ_ASSERT(write(v.stop_fd, &one, sizeof(one)) == sizeof(one));
	pthread_join(t, NULL);
	close(sv[0]);
	close(sv[1]);
	close(v.stop_fd);
	vbuf_free(&v.request);
	vbuf_free(&v.out);
	return 0;
}
