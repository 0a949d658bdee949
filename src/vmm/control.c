/* SPDX-License-Identifier: MIT */
#include "vmm/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define CLIENT_BUF_INITIAL 4096
#define CLIENT_BUF_MAX (CONTROL_MAX_LINE + 1) /* a full line and its newline */

struct ctl_client {
	int fd; /* -1: free slot */
	char *buf;
	size_t len, cap;
};

struct control_server {
	int listen_fd;
	int wake[2]; /* stop: control_server_stop writes a byte to wake[1] */
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

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Send all of data on a non-blocking socket, waiting up to
 * CONTROL_SEND_TIMEOUT_MS for room; gives up early if the server is told
 * to stop. MSG_NOSIGNAL: a vanished peer is EPIPE, not SIGPIPE.
 */
static int send_all(const struct control_server *srv, int fd, const char *data, size_t len)
{
	int64_t deadline = now_ms() + CONTROL_SEND_TIMEOUT_MS;

	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p[2] = {{.fd = fd, .events = POLLOUT}, {.fd = srv->wake[0], .events = POLLIN}};
		int r = poll(p, 2, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
	}
	return 0;
}

static int send_line(const struct control_server *srv, int fd, const char *text, size_t len)
{
	int rc = send_all(srv, fd, text, len);
	if (rc == 0)
		rc = send_all(srv, fd, "\n", 1);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Replies */

static void write_id(struct json_writer *w, const struct json_value *id)
{
	if (id) {
		jw_key(w, "id");
		jw_value(w, id);
	}
}

static int send_error(const struct control_server *srv, int fd, const char *cls, const char *desc,
		      const struct json_value *id)
{
	static const char fallback[] =
		"{\"error\":{\"class\":\"GenericError\",\"desc\":\"out of memory\"}}";
	struct json_writer w;
	const char *text;
	size_t len;
	int rc;

	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "error");
	jw_object_begin(&w);
	jw_key(&w, "class");
	jw_string(&w, cls);
	jw_key(&w, "desc");
	jw_string(&w, desc);
	jw_object_end(&w);
	write_id(&w, id);
	jw_object_end(&w);
	text = jw_result(&w, &len);
	if (!text) {
		text = fallback;
		len = sizeof(fallback) - 1;
	}
	rc = send_line(srv, fd, text, len);
	jw_free(&w);
	return rc;
}

static void run_query_commands(const struct control_server *srv, struct json_writer *ret)
{
	jw_array_begin(ret);
	for (size_t i = 0; i < srv->ncmds; i++) {
		jw_object_begin(ret);
		jw_key(ret, "name");
		jw_string(ret, srv->cmds[i].name);
		jw_key(ret, "help");
		jw_string(ret, srv->cmds[i].help ? srv->cmds[i].help : "");
		jw_object_end(ret);
	}
	jw_object_begin(ret);
	jw_key(ret, "name");
	jw_string(ret, builtin_query_commands);
	jw_key(ret, "help");
	jw_string(ret, "list the commands and their help");
	jw_object_end(ret);
	jw_array_end(ret);
}

static bool all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Parse, dispatch and answer one request line. */
static enum serve_result handle_line(struct control_server *srv, int fd, const char *line,
				     size_t len)
{
	struct json_value *req = NULL;
	const struct json_value *id = NULL, *args = NULL;
	const struct control_command *cmd = NULL;
	const char *name = NULL;
	char msg[600], herr[512];
	struct json_writer ret, w;
	const char *rtext, *text;
	size_t rlen, tlen;
	int rc, hrc;
	enum serve_result res = SERVE_OK;

	if (all_space(line, len))
		return SERVE_OK;

	rc = json_parse(line, len, &req, herr, sizeof(herr));
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "invalid JSON: %s", herr);
		rc = send_error(srv, fd, "InvalidRequest", msg, NULL);
		return rc < 0 ? SERVE_DROP_CLIENT : SERVE_OK;
	}
	if (req->type != JSON_OBJECT) {
		rc = send_error(srv, fd, "InvalidRequest", "the request must be a JSON object", NULL);
		goto out_rc;
	}
	id = json_get(req, "id");
	for (size_t i = 0; i < json_object_len(req); i++) {
		const char *key;
		json_object_at(req, i, &key);
		if (strcmp(key, "execute") && strcmp(key, "arguments") && strcmp(key, "id")) {
			snprintf(msg, sizeof(msg),
				 "unknown member \"%.64s\" in request (expected execute, arguments, id)",
				 key);
			rc = send_error(srv, fd, "InvalidRequest", msg, id);
			goto out_rc;
		}
	}
	if (json_get_string(req, "execute", &name) < 0) {
		rc = send_error(srv, fd, "InvalidRequest",
				"the request needs \"execute\": a string naming the command", id);
		goto out_rc;
	}
	args = json_get(req, "arguments");
	if (args && args->type != JSON_OBJECT) {
		rc = send_error(srv, fd, "InvalidRequest", "\"arguments\" must be an object", id);
		goto out_rc;
	}
	for (size_t i = 0; i < srv->ncmds; i++) {
		if (strcmp(srv->cmds[i].name, name) == 0) {
			cmd = &srv->cmds[i];
			break;
		}
	}
	if (!cmd && strcmp(name, builtin_query_commands) != 0) {
		snprintf(msg, sizeof(msg), "The command %.200s has not been found", name);
		rc = send_error(srv, fd, "CommandNotFound", msg, id);
		goto out_rc;
	}

	log_debug("control: %.64s", name);
	jw_init(&ret);
	herr[0] = 0;
	if (cmd) {
		hrc = cmd->fn(srv->ctx, args, &ret, herr, sizeof(herr));
	} else {
		run_query_commands(srv, &ret);
		hrc = 0;
	}
	if (hrc < 0) {
		if (!herr[0])
			snprintf(herr, sizeof(herr), "%s", strerror(-hrc));
		rc = send_error(srv, fd, "GenericError", herr, id);
		jw_free(&ret);
		goto out_rc;
	}
	if (hrc == CONTROL_REPLY_AND_CLOSE)
		res = SERVE_CLOSE_SERVER;
	else if (hrc != 0)
		log_warn("control: handler for %s returned %d, taken as success", name, hrc);

	if (ret.len == 0 && !jw_error(&ret)) {
		rtext = "{}";
		rlen = 2;
	} else {
		rtext = jw_result(&ret, &rlen);
	}
	if (!rtext) {
		snprintf(msg, sizeof(msg), "internal error: command %.200s produced an invalid reply (%s)",
			 name, strerror(-jw_error(&ret)));
		rc = send_error(srv, fd, "GenericError", msg, id);
		jw_free(&ret);
		goto out_rc;
	}
	jw_init(&w);
	jw_object_begin(&w);
	jw_key(&w, "return");
	jw_raw(&w, rtext, rlen);
	write_id(&w, id);
	jw_object_end(&w);
	text = jw_result(&w, &tlen);
	if (text)
		rc = send_line(srv, fd, text, tlen);
	else
		rc = send_error(srv, fd, "GenericError", "out of memory", id);
	jw_free(&w);
	jw_free(&ret);

out_rc:
	json_free(req);
	if (res == SERVE_CLOSE_SERVER)
		return res;
	return rc < 0 ? SERVE_DROP_CLIENT : SERVE_OK;
}

/* ------------------------------------------------------------------------ */
/* Connections */

static void drop_client(struct ctl_client *c)
{
	if (c->fd >= 0) {
		log_debug("control: client on fd %d closed", c->fd);
		close(c->fd);
	}
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
	c->len = c->cap = 0;
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
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		if (srv->clients[i].fd < 0) {
			srv->clients[i].fd = fd;
			log_debug("control: client connected on fd %d", fd);
			return;
		}
	}
	char msg[64];
	snprintf(msg, sizeof(msg), "too many clients (at most %d)", CONTROL_MAX_CLIENTS);
	send_error(srv, fd, "GenericError", msg, NULL);
	close(fd);
}

/* Read what the client sent and answer every complete line. */
static enum serve_result serve_client(struct control_server *srv, struct ctl_client *c)
{
	if (c->len == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : CLIENT_BUF_INITIAL;
		if (ncap > CLIENT_BUF_MAX)
			ncap = CLIENT_BUF_MAX;
		char *nb = realloc(c->buf, ncap);
		if (!nb) {
			log_warn("control: out of memory, dropping a client");
			drop_client(c);
			return SERVE_OK;
		}
		c->buf = nb;
		c->cap = ncap;
	}
	ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (n == 0) {
		drop_client(c); /* EOF; a partial request is discarded */
		return SERVE_OK;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			drop_client(c);
		return SERVE_OK;
	}
	size_t scan_from = c->len;
	c->len += (size_t)n;

	size_t start = 0;
	for (;;) {
		char *nl = memchr(c->buf + scan_from, '\n', c->len - scan_from);
		if (!nl)
			break;
		size_t end = (size_t)(nl - c->buf);
		enum serve_result r = handle_line(srv, c->fd, c->buf + start, end - start);
		if (r == SERVE_DROP_CLIENT) {
			drop_client(c);
			return SERVE_OK;
		}
		if (r == SERVE_CLOSE_SERVER)
			return r;
		start = scan_from = end + 1;
	}
	if (start) {
		memmove(c->buf, c->buf + start, c->len - start);
		c->len -= start;
	}
	if (c->len > CONTROL_MAX_LINE) {
		char msg[96];
		snprintf(msg, sizeof(msg), "request line longer than %d bytes; closing the connection",
			 CONTROL_MAX_LINE);
		send_error(srv, c->fd, "InvalidRequest", msg, NULL);
		drop_client(c);
	}
	return SERVE_OK;
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

static void close_everything(struct control_server *srv)
{
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		drop_client(&srv->clients[i]);
	if (srv->listen_fd >= 0) {
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	unlink_own_path(srv);
}

static void *server_thread(void *arg)
{
	struct control_server *srv = arg;
	struct pollfd pfd[2 + CONTROL_MAX_CLIENTS];
	size_t slot[CONTROL_MAX_CLIENTS];

	pthread_setname_np(pthread_self(), "control");
	for (;;) {
		size_t n = 0, nc = 0;
		pfd[n++] = (struct pollfd){.fd = srv->wake[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = srv->listen_fd, .events = POLLIN};
		for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++) {
			if (srv->clients[i].fd >= 0) {
				pfd[n++] = (struct pollfd){.fd = srv->clients[i].fd, .events = POLLIN};
				slot[nc++] = i;
			}
		}
		int r = poll(pfd, n, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_err("control: poll failed: %s; the control socket stops", strerror(errno));
			break;
		}
		if (pfd[0].revents)
			return NULL; /* control_server_stop cleans up */
		for (size_t k = 0; k < nc; k++) {
			if (!pfd[2 + k].revents)
				continue;
			if (serve_client(srv, &srv->clients[slot[k]]) == SERVE_CLOSE_SERVER) {
				log_debug("control: closing the control socket as asked");
				close_everything(srv);
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

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen,
							  const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

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
			set_err(err, errlen, "cannot bind control socket %s: %s", path, strerror(e));
			return -e;
		}
		struct stat st;
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			set_err(err, errlen, "%s exists and is not a socket; refusing to replace it",
				path);
			return -EEXIST;
		}
		int live = probe_live(addr);
		if (live == 1) {
			set_err(err, errlen, "another server is already listening on %s", path);
			return -EADDRINUSE;
		}
		if (live < 0) {
			set_err(err, errlen, "%s exists and cannot be checked: %s", path,
				strerror(-live));
			return live;
		}
		log_info("replacing stale control socket %s", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			e = errno;
			set_err(err, errlen, "cannot remove stale control socket %s: %s", path,
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
	if (!path || !path[0]) {
		set_err(err, errlen, "no control socket path given");
		return -EINVAL;
	}
	plen = strlen(path);
	if (plen >= sizeof(addr.sun_path)) {
		set_err(err, errlen,
			"control socket path is too long (%zu bytes, at most %zu): %s", plen,
			sizeof(addr.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	if (ncmds && !cmds) {
		set_err(err, errlen, "no command table");
		return -EINVAL;
	}
	for (size_t i = 0; i < ncmds; i++) {
		if (!cmds[i].name || !cmds[i].name[0] || !cmds[i].fn) {
			set_err(err, errlen, "command table entry %zu has no name or handler", i);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cmds[i].name, cmds[j].name) == 0) {
				set_err(err, errlen, "command %s is listed twice", cmds[i].name);
				return -EINVAL;
			}
		}
	}
	memcpy(addr.sun_path, path, plen + 1);

	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	srv->listen_fd = srv->wake[0] = srv->wake[1] = -1;
	for (size_t i = 0; i < CONTROL_MAX_CLIENTS; i++)
		srv->clients[i].fd = -1;
	memcpy(srv->path, path, plen + 1);
	srv->cmds = cmds;
	srv->ncmds = ncmds;
	srv->ctx = ctx;

	srv->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->listen_fd < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot create control socket: %s", strerror(-rc));
		goto fail;
	}
	rc = bind_path(srv, &addr, err, errlen);
	if (rc < 0)
		goto fail;
	/* Until listen() connections are refused, so the umask window is harmless. */
	if (lstat(path, &st) < 0 || chmod(path, 0600) < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot set the mode of control socket %s: %s", path,
			strerror(-rc));
		unlink(path);
		goto fail;
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	srv->path_owned = true;
	if (listen(srv->listen_fd, CONTROL_MAX_CLIENTS) < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot listen on control socket %s: %s", path, strerror(-rc));
		goto fail;
	}
	if (pipe2(srv->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = -errno;
		set_err(err, errlen, "cannot create the control wake-up pipe: %s", strerror(-rc));
		goto fail;
	}

	/* The thread takes no signals: they belong to the VMM's main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&srv->thread, NULL, server_thread, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		set_err(err, errlen, "cannot start the control thread: %s", strerror(-rc));
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
		ssize_t n;
		do
			n = write(srv->wake[1], "x", 1);
		while (n < 0 && errno == EINTR);
		pthread_join(srv->thread, NULL);
	}
	free_server(srv);
}
