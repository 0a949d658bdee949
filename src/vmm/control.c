/* SPDX-License-Identifier: MIT */
/*
 * The control server (control.h): its thread, connections, output queues,
 * replies and dispatch. What a request line says is control_request.c's
 * to read, whether its arguments fit the command control_args.c's to say.
 */
#include "vmm/control.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/errmsg.h"
#include "common/log.h"
#include "vmm/control_args.h"
#include "vmm/control_request.h"

#define CLIENT_BUF_INITIAL 4096
#define CLIENT_BUF_MAX (CONTROL_MAX_LINE + 1) /* a full line and its newline */
/*
 * Backpressure: while more reply bytes than this wait for a client, its
 * requests are neither read nor parsed, so a client that pipelines without
 * reading fills its own socket, not our memory. One reply may overshoot the
 * bound (a handler's reply has no size limit).
 */
#define CLIENT_OUT_HIGH (256 * 1024)
/* A drained output buffer larger than this is freed rather than kept. */
#define CLIENT_OUT_KEEP (64 * 1024)
/* How long a "quit" waits for its reply to leave before closing everything. */
#define CLOSE_FLUSH_MS 1000

struct ctl_client {
	int fd;   /* -1: free slot */
	char *in; /* request bytes not yet answered */
	size_t in_len, in_cap;
	size_t in_scan; /* in[0, in_scan) holds no newline: where the next search starts */
	char *out;      /* replies not yet sent: out[out_off, out_len) */
	size_t out_off, out_len, out_cap;
	int64_t active_ms; /* its last input, or when its last reply left: idle since */
	int64_t out_ms;    /* when its pending output last made progress */
	bool closing;      /* reads no more: closed once its output is sent */
};

struct control_server {
	int listen_fd;
	int wake[2]; /* a byte on wake[1] wakes the thread: to stop, or to re-read settings */
	atomic_bool stopping;
	atomic_int idle_timeout_ms; /* 0: no idle timeout */
	pthread_t thread;
	bool thread_started;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev; /* the socket file we created, to unlink only our own */
	ino_t ino;
	bool path_owned;
	const struct control_command *cmds;
	size_t ncmds;
	void *ctx;
	struct ctl_client clients[CONTROL_MAX_CLIENTS];
};

/* What serving a line or a client asks of the loop. */
enum serve_result { SERVE_OK = 0, SERVE_DROP_CLIENT = 1, SERVE_CLOSE_SERVER = 2 };

static const char builtin_query_commands[] = "query-commands";

/* ------------------------------------------------------------------------ */
/* Output: replies are queued per client and sent without ever waiting. */

static int64_t now_ms(void)
{
	return (int64_t)(now_ns() / 1000000);
}

static size_t out_pending(const struct ctl_client *c)
{
	return c->out_len - c->out_off;
}

/* Queue bytes for the client. Returns 0 or -ENOMEM. */
static int out_append(struct ctl_client *c, const char *data, size_t len)
{
	if (!len)
		return 0;
	if (out_pending(c) == 0) {
		/* The send timeout counts from when output starts waiting. */
		c->out_off = c->out_len = 0;
		c->out_ms = now_ms();
	}
	if (c->out_cap - c->out_len < len && c->out_off) {
		/* Reuse the room of what was already sent before growing. */
		memmove(c->out, c->out + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_cap - c->out_len < len) {
		size_t ncap = c->out_cap ? c->out_cap : CLIENT_BUF_INITIAL;
		while (ncap - c->out_len < len)
			ncap *= 2;
		char *nb = realloc(c->out, ncap);
		if (!nb)
			return -ENOMEM;
		c->out = nb;
		c->out_cap = ncap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	return 0;
}

/*
 * Send what the socket takes now, never waiting: the control thread serves
 * every client, so one that does not read must not hold up the others.
 * Returns 0 or a negative errno (the connection is dead). MSG_NOSIGNAL: a
 * vanished peer is EPIPE, not SIGPIPE.
 */
static int flush_client(struct ctl_client *c)
{
	bool sent = false;

	while (out_pending(c)) {
		ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			sent = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		return n < 0 ? -errno : -EIO;
	}
	if (!sent)
		return 0;
	c->out_ms = now_ms();
	if (out_pending(c) == 0) {
		c->out_off = c->out_len = 0;
		c->active_ms = c->out_ms; /* idle from when its last reply left */
		if (c->out_cap > CLIENT_OUT_KEEP) {
			free(c->out); /* one large reply need not pin memory for good */
			c->out = NULL;
			c->out_cap = 0;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Replies: compact JSON on one line each, with the request's id verbatim. */

/*
 * Queue obj (its reference is taken) as one line, with ,"id":ID spliced in
 * before its closing brace if id is not NULL. Returns 0 or -ENOMEM.
 */
static int reply_json(struct ctl_client *c, json_t *obj, const char *id)
{
	static const char oom[] =
		"{\"error\":{\"class\":\"GenericError\",\"desc\":\"out of memory\"}}";
	/* A handler's string made with json_string_nocheck may be no UTF-8. */
	static const char bad[] = "{\"error\":{\"class\":\"GenericError\",\"desc\":\"internal "
				  "error: the reply cannot be encoded as JSON\"}}";
	char *text = obj ? json_dumps(obj, VMIG_JSON_DUMP) : NULL;
	const char *line = text ? text : obj ? bad : oom;
	int rc;

	json_decref(obj);
	rc = out_append(c, line, strlen(line) - 1); /* an object: all but its '}' */
	if (rc == 0 && id)
		rc = out_append(c, ",\"id\":", 6);
	if (rc == 0 && id)
		rc = out_append(c, id, strlen(id));
	if (rc == 0)
		rc = out_append(c, "}\n", 2);
	free(text);
	return rc;
}

/* Queue {"error": {"class": cls, "desc": desc}, "id": id}. Returns 0 or -ENOMEM. */
static int reply_error(struct ctl_client *c, const char *cls, const char *desc, const char *id)
{
	return reply_json(c,
			  json_pack("{s:{s:s, s:o}}", "error", "class", cls, "desc",
				    json_string_lossy(desc)),
			  id);
}

/* Queue {"return": ret (taken; NULL: {}), "id": id}. Returns 0 or -ENOMEM. */
static int reply_return(struct ctl_client *c, json_t *ret, const char *id)
{
	return reply_json(c, json_pack("{s:o}", "return", ret ? ret : json_object()), id);
}

/* [{"name": ..., "help": ...}, ...] for the table and query-commands itself; NULL: no memory. */
static json_t *list_commands(const struct control_server *srv)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i <= srv->ncmds; i++) {
		const char *name = builtin_query_commands, *help = "list the commands and their help";
		if (i < srv->ncmds) {
			name = srv->cmds[i].name;
			help = srv->cmds[i].help ? srv->cmds[i].help : "";
		}
		if (json_array_append_new(list, json_pack("{s:s, s:s}", "name", name, "help", help))) {
			json_decref(list);
			list = NULL;
		}
	}
	return list;
}

/* ------------------------------------------------------------------------ */
/* Requests */

static const struct control_command *find_command(const struct control_server *srv,
						  const char *name)
{
	for (size_t i = 0; i < srv->ncmds; i++)
		if (strcmp(srv->cmds[i].name, name) == 0)
			return &srv->cmds[i];
	return NULL;
}

/*
 * Check a parsed request's shape and arguments. Returns 1 if it names a
 * command (*cmd is NULL for the built-in query-commands), 0 if it was
 * answered with an error reply, or -ENOMEM if even that could not be queued.
 */
static int check_request(const struct control_server *srv, struct ctl_client *c,
			 const struct control_request *rq, const struct control_command **cmd,
			 const char **name, json_t **args)
{
	struct control_big_int big = {json_string_value(rq->big_key), rq->big_negative};
	const char *key;
	json_t *v;
	char msg[600];

	if (!json_is_object(rq->root))
		return reply_error(c, "InvalidRequest", "the request must be a JSON object", NULL);
	json_object_foreach (rq->root, key, v) {
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			snprintf(msg, sizeof(msg),
				 "unknown member \"%.64s\" in request (expected execute, arguments, id)",
				 key);
			return reply_error(c, "InvalidRequest", msg, rq->id);
		}
	}
	*name = json_string_value(json_object_get(rq->root, "execute"));
	if (!*name)
		return reply_error(c, "InvalidRequest",
				   "the request needs \"execute\": a string naming the command", rq->id);
	*args = json_object_get(rq->root, "arguments");
	if (*args && !json_is_object(*args))
		return reply_error(c, "InvalidRequest", "\"arguments\" must be an object", rq->id);
	*cmd = find_command(srv, *name);
	if (!*cmd && strcmp(*name, builtin_query_commands) != 0) {
		snprintf(msg, sizeof(msg), "The command %.200s has not been found", *name);
		return reply_error(c, "CommandNotFound", msg, rq->id);
	}
	if (control_args_check(*name, *args, *cmd ? (*cmd)->args : NULL, NULL,
			       rq->loose ? &big : NULL,
		       msg, sizeof(msg)) < 0)
		return reply_error(c, "GenericError", msg, rq->id);
	if (rq->loose) { /* deeper in an argument of the wrong type: caught above */
		snprintf(msg, sizeof(msg), "%.200s: an integer is beyond INT64_MIN..INT64_MAX", *name);
		return reply_error(c, "GenericError", msg, rq->id);
	}
	return 1;
}

/* Run a checked request's handler and queue its reply. */
static enum serve_result run_command(const struct control_server *srv, struct ctl_client *c,
				     const struct control_command *cmd, const char *name,
				     json_t *args, const char *id)
{
	json_t *ret = NULL;
	char herr[512];
	int hrc, rc;

	log_debug("control: %.64s", name);
	herr[0] = 0;
	if (cmd) {
		hrc = cmd->fn(srv->ctx, args, &ret, herr, sizeof(herr));
	} else {
		ret = list_commands(srv);
		hrc = ret ? 0 : -ENOMEM;
	}
	if (hrc < 0) {
		json_decref(ret);
		if (!herr[0])
			snprintf(herr, sizeof(herr), "%s", strerror(-hrc));
		rc = reply_error(c, "GenericError", herr, id);
	} else {
		if (hrc != 0 && hrc != CONTROL_REPLY_AND_CLOSE)
			log_warn("control: handler for %s returned %d, taken as success", name, hrc);
		rc = reply_return(c, ret, id);
	}
	if (hrc == CONTROL_REPLY_AND_CLOSE)
		return SERVE_CLOSE_SERVER;
	return rc < 0 ? SERVE_DROP_CLIENT : SERVE_OK;
}

/* Parse, dispatch and answer one request line. */
static enum serve_result handle_line(struct control_server *srv, struct ctl_client *c,
				     const char *line, size_t len)
{
	struct control_request rq = {0};
	const struct control_command *cmd = NULL;
	const char *name = NULL;
	json_t *args = NULL;
	enum serve_result res = SERVE_OK;
	char msg[600];
	int rc;

	if (control_line_blank(line, len))
		return SERVE_OK;
	rc = control_request_parse(line, len, &rq, msg, sizeof(msg));
	if (rc == -EINVAL)
		rc = reply_error(c, "InvalidRequest", msg, NULL);
	else if (rc < 0)
		rc = reply_error(c, "GenericError", "out of memory", NULL);
	else if ((rc = check_request(srv, c, &rq, &cmd, &name, &args)) == 1)
		res = run_command(srv, c, cmd, name, args, rq.id);
	if (rc < 0)
		res = SERVE_DROP_CLIENT;
	control_request_free(&rq);
	return res;
}

/* ------------------------------------------------------------------------ */
/* Connections */

static void drop_client(struct ctl_client *c)
{
	if (c->fd >= 0) {
		log_debug("control: client on fd %d closed", c->fd);
		close(c->fd);
	}
	free(c->in);
	free(c->out);
	*c = (struct ctl_client){.fd = -1};
}

/* Room for one more recv: the buffer grows up to a full line and its newline. */
static int grow_input(struct ctl_client *c)
{
	size_t ncap = c->in_cap ? c->in_cap * 2 : CLIENT_BUF_INITIAL;

	if (ncap > CLIENT_BUF_MAX)
		ncap = CLIENT_BUF_MAX;
	if (ncap <= c->in_len)
		return -ENOBUFS; /* cannot happen: a full buffer is a line too long */
	char *nb = realloc(c->in, ncap);
	if (!nb)
		return -ENOMEM;
	c->in = nb;
	c->in_cap = ncap;
	return 0;
}

/* Take in what the client sent; its lines are answered by process_lines. */
static void read_client(struct ctl_client *c)
{
	int rc = c->in_len == c->in_cap ? grow_input(c) : 0;
	if (rc < 0) {
		log_warn("control: cannot buffer a client's input (%s); dropping it", strerror(-rc));
		drop_client(c);
		return;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n == 0) {
		/* EOF: a partial request is discarded; replies already queued still go out. */
		c->in_len = c->in_scan = 0;
		if (out_pending(c))
			c->closing = true;
		else
			drop_client(c);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			drop_client(c);
		return;
	}
	c->in_len += (size_t)n;
	c->active_ms = now_ms();
}

/*
 * Answer the complete request lines in the client's input, in order, while
 * its pending output is within CLIENT_OUT_HIGH; the rest wait until the
 * output drains (backpressure, nothing is lost). A line longer than
 * CONTROL_MAX_LINE gets an error reply, and the connection closes once
 * that reply has been sent.
 */
static enum serve_result process_lines(struct control_server *srv, struct ctl_client *c)
{
	size_t start = 0, scan = c->in_scan;
	enum serve_result r = SERVE_OK;

	while (r == SERVE_OK && !c->closing && out_pending(c) <= CLIENT_OUT_HIGH) {
		char *nl = scan < c->in_len ? memchr(c->in + scan, '\n', c->in_len - scan) : NULL;
		if (!nl) {
			scan = c->in_len;
			break;
		}
		size_t end = (size_t)(nl - c->in);
		r = handle_line(srv, c, c->in + start, end - start);
		start = scan = end + 1;
	}
	if (r == SERVE_CLOSE_SERVER)
		return r;
	if (r == SERVE_DROP_CLIENT) {
		drop_client(c);
		return SERVE_OK;
	}
	if (start) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	c->in_scan = scan - start;
	if (c->in_scan == c->in_len && c->in_len > CONTROL_MAX_LINE) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request line longer than %d bytes; closing the connection",
			 CONTROL_MAX_LINE);
		c->in_len = c->in_scan = 0;
		c->closing = true;
		if (reply_error(c, "InvalidRequest", msg, NULL) < 0)
			drop_client(c);
	}
	return SERVE_OK;
}

/*
 * Answer what can be answered and send what the socket takes, until the
 * client's output is over the backpressure bound or no complete request is
 * left, so that no request waits for input that may never come. Never waits.
 */
static enum serve_result pump_client(struct control_server *srv, struct ctl_client *c)
{
	for (;;) {
		enum serve_result r = process_lines(srv, c);
		if (r != SERVE_OK || c->fd < 0)
			return r;
		if (flush_client(c) < 0 || (c->closing && out_pending(c) == 0)) {
			drop_client(c);
			return SERVE_OK;
		}
		/* in_scan < in_len: bytes not yet searched, maybe a request. */
		if (c->closing || out_pending(c) > CLIENT_OUT_HIGH || c->in_scan == c->in_len)
			return SERVE_OK;
	}
}

/* poll() reported revents on the client's socket. */
static enum serve_result service_client(struct control_server *srv, struct ctl_client *c,
					short revents)
{
	if (revents & POLLIN) {
		read_client(c);
		if (c->fd < 0)
			return SERVE_OK;
	}
	/* POLLOUT, and POLLHUP/POLLERR: flushing finds out whether the peer is gone. */
	enum serve_result r = pump_client(srv, c);
	/* An error with nothing to read or send would be reported again at once: a spin. */
	if (r == SERVE_OK && c->fd >= 0 && (revents & (POLLERR | POLLNVAL)) &&
	    !(revents & POLLIN) && !out_pending(c))
		drop_client(c);
	return r;
}

/* When the client is to be dropped (INT64_MAX: never): output stuck, or idle. */
static int64_t client_deadline(const struct ctl_client *c, int idle_ms)
{
	if (c->fd < 0)
		return INT64_MAX;
	if (out_pending(c))
		return c->out_ms + CONTROL_SEND_TIMEOUT_MS;
	if (idle_ms > 0)
		return c->active_ms + idle_ms;
	return INT64_MAX;
}

/* Drop clients that do not read their replies, and idle ones: both hold a slot. */
static void expire_clients(struct control_server *srv, int64_t now)
{
	int idle_ms = atomic_load(&srv->idle_timeout_ms);

	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct ctl_client *c = &srv->clients[i];
		if (client_deadline(c, idle_ms) > now)
			continue;
		if (out_pending(c))
			log_info("control: client on fd %d has not read its replies for %d ms; "
				 "dropping it",
				 c->fd, CONTROL_SEND_TIMEOUT_MS);
		else
			log_debug("control: client on fd %d idle for %d ms; closing it", c->fd,
				  idle_ms);
		drop_client(c);
	}
}

/* Milliseconds until the earliest client deadline, for poll(); -1: none. */
static int next_timeout(const struct control_server *srv, int64_t now)
{
	int idle_ms = atomic_load(&srv->idle_timeout_ms);
	int64_t first = INT64_MAX;

	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		int64_t due = client_deadline(&srv->clients[i], idle_ms);
		if (due < first)
			first = due;
	}
	if (first == INT64_MAX)
		return -1;
	if (first <= now)
		return 0;
	return first - now > INT_MAX ? INT_MAX : (int)(first - now);
}

/*
 * The slot for a new client: a free one; else the slot of the client idle
 * longest, if it has been idle long enough that it is more likely abandoned
 * than about to speak (it is closed); else -1. Without this, idle clients
 * could keep `vmig status` out until the idle timeout.
 */
static int take_slot(struct control_server *srv, int64_t now)
{
	int idle_ms = atomic_load(&srv->idle_timeout_ms);
	int64_t min_idle = CONTROL_EVICT_IDLE_MS;
	int victim = -1;

	if (idle_ms > 0 && idle_ms / 4 < min_idle)
		min_idle = idle_ms / 4;
	for (int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const struct ctl_client *c = &srv->clients[i];
		if (c->fd < 0)
			return i;
		if (out_pending(c) || c->closing || now - c->active_ms < min_idle)
			continue;
		if (victim < 0 || c->active_ms < srv->clients[victim].active_ms)
			victim = i;
	}
	if (victim >= 0) {
		struct ctl_client *c = &srv->clients[victim];
		log_debug("control: every slot taken; closing the client on fd %d, idle for %lld ms",
			  c->fd, (long long)(now - c->active_ms));
		drop_client(c);
	}
	return victim;
}

/*
 * Tell a client there is no room and close. One non-blocking send: a fresh
 * socket has room for a line, and the thread must not wait on a newcomer.
 */
static void refuse_client(int fd)
{
	char msg[128];
	int len = snprintf(msg, sizeof(msg),
			   "{\"error\":{\"class\":\"GenericError\",\"desc\":\"too many clients (at "
			   "most %d)\"}}\n",
			   CONTROL_MAX_CLIENTS);
	ssize_t n = send(fd, msg, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
}

static void accept_client(struct control_server *srv)
{
	int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_warn("control: cannot accept a connection: %s", strerror(errno));
			/* Let the condition pass instead of spinning on POLLIN. */
			struct pollfd p = {.fd = srv->wake[0], .events = POLLIN};
			poll(&p, 1, 100);
		}
		return;
	}
	int64_t now = now_ms();
	int i = take_slot(srv, now);
	if (i < 0) {
		refuse_client(fd);
		return;
	}
	srv->clients[i].fd = fd;
	srv->clients[i].active_ms = now;
	log_debug("control: client connected on fd %d", fd);
}

/* Unlink the socket file if it is still the one we created. */
static void unlink_own_path(struct control_server *srv)
{
	struct stat st;

	if (!srv->path_owned)
		return;
	srv->path_owned = false;
	if (lstat(srv->path, &st) == 0 && st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
}

/* The path first: a client that sees its connection close then finds no socket at all. */
static void close_everything(struct control_server *srv)
{
	unlink_own_path(srv);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		drop_client(&srv->clients[i]);
}

static void wake_thread(struct control_server *srv)
{
	ssize_t n;
	do
		n = write(srv->wake[1], "x", 1);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the pipe is full of wake-ups already, which will do. */
}

/* Empty the wake-up pipe; true if the thread is to stop. */
static bool wake_says_stop(struct control_server *srv)
{
	char buf[64];

	while (read(srv->wake[0], buf, sizeof(buf)) > 0)
		;
	return atomic_load(&srv->stopping);
}

/*
 * A handler asked to close: give the replies queued (its own first of all)
 * a bounded chance to leave, then close everything. Bounded, so that a
 * client that does not read cannot keep the VMM from exiting; a stop cuts
 * it short.
 */
static void close_after_reply(struct control_server *srv, struct ctl_client *asker)
{
	int64_t deadline = now_ms() + CLOSE_FLUSH_MS;

	log_debug("control: closing the control socket as asked");
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (srv->clients[i].fd >= 0)
			(void)flush_client(&srv->clients[i]); /* one try each for the others */
	while (out_pending(asker)) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			break;
		struct pollfd p[2] = {{.fd = asker->fd, .events = POLLOUT},
				      {.fd = srv->wake[0], .events = POLLIN}};
		if (poll(p, 2, (int)left) < 0 && errno != EINTR)
			break;
		if (p[1].revents && wake_says_stop(srv))
			break;
		if (flush_client(asker) < 0)
			break;
	}
	close_everything(srv);
}

/* The poll set: wake pipe, listening socket, then the clients (slot[k] for pfd[2 + k]). */
static size_t build_pollset(const struct control_server *srv, struct pollfd *pfd, size_t *slot,
			    size_t *nc)
{
	size_t n = 0;

	*nc = 0;
	pfd[n++] = (struct pollfd){.fd = srv->wake[0], .events = POLLIN};
	pfd[n++] = (struct pollfd){.fd = srv->listen_fd, .events = POLLIN};
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		const struct ctl_client *c = &srv->clients[i];
		if (c->fd < 0)
			continue;
		short ev = 0;
		/* Backpressure: no reading while too much output waits. */
		if (!c->closing && out_pending(c) <= CLIENT_OUT_HIGH)
			ev |= POLLIN;
		if (out_pending(c))
			ev |= POLLOUT;
		pfd[n++] = (struct pollfd){.fd = c->fd, .events = ev};
		slot[(*nc)++] = i;
	}
	return n;
}

static void *server_thread(void *arg)
{
	struct control_server *srv = arg;
	struct pollfd pfd[2 + CONTROL_MAX_CLIENTS];
	size_t slot[CONTROL_MAX_CLIENTS], nc;

	pthread_setname_np(pthread_self(), "control");
	for (;;) {
		int64_t now = now_ms();
		expire_clients(srv, now);
		size_t n = build_pollset(srv, pfd, slot, &nc);
		int r = poll(pfd, n, next_timeout(srv, now));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_err("control: poll failed: %s; the control socket stops", strerror(errno));
			break;
		}
		if (pfd[0].revents && wake_says_stop(srv))
			return NULL; /* control_server_stop cleans up */
		for (size_t k = 0; k < nc; k++) {
			struct ctl_client *c = &srv->clients[slot[k]];
			if (!pfd[2 + k].revents || c->fd < 0)
				continue;
			if (service_client(srv, c, pfd[2 + k].revents) == SERVE_CLOSE_SERVER) {
				close_after_reply(srv, c);
				return NULL;
			}
		}
		if (pfd[1].revents & POLLIN)
			accept_client(srv);
	}
	close_everything(srv);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Start and stop */

/*
 * Is someone serving on the socket at path? 1: yes, 0: no (stale, refused),
 * -errno: cannot tell. Non-blocking, so a full backlog answers EAGAIN (live).
 */
static int probe_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		rc = 1;
	else if (errno == EAGAIN || errno == EINPROGRESS)
		rc = 1;
	else if (errno == ECONNREFUSED || errno == ENOENT)
		rc = 0;
	else
		rc = -errno;
	close(fd);
	return rc;
}

static int bind_path(struct control_server *srv, const struct sockaddr_un *addr, char *err,
		     size_t errlen)
{
	const char *path = addr->sun_path;

	for (int attempt = 0;; attempt++) {
		if (bind(srv->listen_fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
			return 0;
		int e = errno;
		if (e != EADDRINUSE || attempt > 0) {
			errmsg_set(err, errlen, "cannot bind control socket %s: %s", path, strerror(e));
			return -e;
		}
		struct stat st;
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			errmsg_set(err, errlen, "%s exists and is not a socket; refusing to replace it",
				path);
			return -EEXIST;
		}
		int live = probe_live(addr);
		if (live == 1) {
			errmsg_set(err, errlen, "another server is already listening on %s", path);
			return -EADDRINUSE;
		}
		if (live < 0) {
			errmsg_set(err, errlen, "%s exists and cannot be checked: %s", path,
				strerror(-live));
			return live;
		}
		log_info("replacing stale control socket %s", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			e = errno;
			errmsg_set(err, errlen, "cannot remove stale control socket %s: %s", path,
				strerror(e));
			return -e;
		}
	}
}

static void free_server(struct control_server *srv)
{
	close_everything(srv);
	for (int i = 0; i < 2; i++)
		if (srv->wake[i] >= 0)
			close(srv->wake[i]);
	free(srv);
}

/* The path fits a sockaddr_un and the table is sound. Returns 0 or -errno with err set. */
static int check_start_args(const char *path, const struct control_command *cmds, size_t ncmds,
			    char *err, size_t errlen)
{
	size_t plen, max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	if (!path || !path[0]) {
		errmsg_set(err, errlen, "no control socket path given");
		return -EINVAL;
	}
	plen = strlen(path);
	if (plen > max) {
		errmsg_set(err, errlen, "control socket path is too long (%zu bytes, at most %zu): %s",
			plen, max, path);
		return -ENAMETOOLONG;
	}
	if (ncmds && !cmds) {
		errmsg_set(err, errlen, "no command table");
		return -EINVAL;
	}
	for (size_t i = 0; i < ncmds; i++) {
		if (!cmds[i].name || !cmds[i].name[0] || !cmds[i].fn) {
			errmsg_set(err, errlen, "command table entry %zu has no name or handler", i);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cmds[i].name, cmds[j].name) == 0) {
				errmsg_set(err, errlen, "command %s is listed twice", cmds[i].name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int control_server_start(struct control_server **out, const char *path,
			 const struct control_command *cmds, size_t ncmds, void *ctx, char *err,
			 size_t errlen)
{
	struct control_server *srv;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	sigset_t all, old;
	size_t plen;
	int rc;

	if (err && errlen)
		err[0] = 0;
	*out = NULL;
	rc = check_start_args(path, cmds, ncmds, err, errlen);
	if (rc < 0)
		return rc;
	plen = strlen(path);
	memcpy(addr.sun_path, path, plen + 1);

	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		errmsg_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	srv->listen_fd = srv->wake[0] = srv->wake[1] = -1;
	atomic_init(&srv->stopping, false);
	atomic_init(&srv->idle_timeout_ms, CONTROL_IDLE_TIMEOUT_MS);
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		srv->clients[i].fd = -1;
	memcpy(srv->path, path, plen + 1);
	srv->cmds = cmds;
	srv->ncmds = ncmds;
	srv->ctx = ctx;

	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->listen_fd < 0) {
		rc = -errno;
		errmsg_set(err, errlen, "cannot create control socket: %s", strerror(-rc));
		goto fail;
	}
	rc = bind_path(srv, &addr, err, errlen);
	if (rc < 0)
		goto fail;
	/* Until listen() connections are refused, so the umask window is harmless. */
	if (lstat(path, &st) < 0 || chmod(path, 0600) < 0) {
		rc = -errno;
		errmsg_set(err, errlen, "cannot set the mode of control socket %s: %s", path,
			strerror(-rc));
		unlink(path);
		goto fail;
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	srv->path_owned = true;
	if (listen(srv->listen_fd, CONTROL_MAX_CLIENTS) < 0) {
		rc = -errno;
		errmsg_set(err, errlen, "cannot listen on control socket %s: %s", path, strerror(-rc));
		goto fail;
	}
	if (pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		errmsg_set(err, errlen, "cannot create the control wake-up pipe: %s", strerror(-rc));
		goto fail;
	}

	/* The thread takes no signals: they belong to the VMM's main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&srv->thread, NULL, server_thread, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		errmsg_set(err, errlen, "cannot start the control thread: %s", strerror(-rc));
		goto fail;
	}
	srv->thread_started = true;
	log_debug("control socket listening on %s", path);
	*out = srv;
	return 0;

fail:
	free_server(srv);
	return rc;
}

void control_server_stop(struct control_server *srv)
{
	if (!srv)
		return;
	if (srv->thread_started) {
		if (pthread_equal(pthread_self(), srv->thread)) {
			log_err("control_server_stop called from a control handler; ignored "
				"(return CONTROL_REPLY_AND_CLOSE instead)");
			return;
		}
		atomic_store(&srv->stopping, true);
		wake_thread(srv);
		pthread_join(srv->thread, NULL);
	}
	free_server(srv);
}

int control_server_set_idle_timeout(struct control_server *srv, int ms)
{
	if (!srv || ms < 0)
		return -EINVAL;
	atomic_store(&srv->idle_timeout_ms, ms);
	/* The thread may be in poll() with a deadline from the old value. */
	if (srv->thread_started)
		wake_thread(srv);
	return 0;
}
