/* SPDX-License-Identifier: MIT */
#include "vmm/guestdev.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "vmig/guest_abi.h"

void guestdev_init(struct guestdev *g, guest_exit_fn on_exit, void *opaque)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->on_exit = on_exit;
	g->opaque = opaque;
}

void guestdev_destroy(struct guestdev *g)
{
	pthread_mutex_destroy(&g->lock);
}

void guestdev_io(void *opaque, uint16_t port, bool is_write, unsigned size, uint32_t *val)
{
	struct guestdev *g = opaque;

	if (!is_write) {
		*val = 0;
		return;
	}
	if (port == VMIG_PORT_HEARTBEAT) {
		uint64_t now = now_ns();
		pthread_mutex_lock(&g->lock);
		if (g->hb.last_ns && now - g->hb.last_ns > g->hb.max_gap_ns)
			g->hb.max_gap_ns = now - g->hb.last_ns;
		g->hb.last_ns = now;
		g->hb.last_real_ns = realtime_ns();
		g->hb.count++;
		g->hb.last_value = *val;
		pthread_mutex_unlock(&g->lock);
	} else if (port == VMIG_PORT_EXIT) {
		if (g->on_exit)
			g->on_exit(g->opaque, *val);
	}
	(void)size;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool guest_progress_parse(struct guest_progress *p, const char *line)
{
	unsigned long long t, passes, errors, a, b, c, d;
	double dirty;

	if (!starts_with(line, "guestload: "))
		return false;
	snprintf(p->last_line, sizeof(p->last_line), "%s", line);
	if (sscanf(line, "guestload: t=%llus passes=%llu dirty=%lfMiB/s errors=%llu", &t, &passes,
		   &dirty, &errors) == 4) {
		p->seen = true;
		p->t_s = t;
		p->passes = passes;
		p->dirty_mibs = dirty;
		p->errors = errors;
		return true;
	}
	if (sscanf(line, "guestload: layout ws_base=%llx ws_pages=%llu owned_base=%llx owned_pages=%llu",
		   &a, &b, &c, &d) == 4) {
		p->layout_seen = true;
		p->ws_base = a;
		p->ws_pages = b;
		p->owned_base = c;
		p->owned_pages = d;
		return true;
	}
	if (sscanf(line, "guestload: done t=%llus passes=%llu errors=%llu", &t, &passes, &errors) == 3) {
		p->done = true;
		p->t_s = t;
		p->passes = passes;
		p->errors = errors;
		return true;
	}
	return true;
}

void guestdev_on_serial_line(void *opaque, const char *line)
{
	struct guestdev *g = opaque;
	pthread_mutex_lock(&g->lock);
	guest_progress_parse(&g->progress, line);
	pthread_mutex_unlock(&g->lock);
}

void guestdev_snapshot(struct guestdev *g, struct guest_progress *p, struct guest_heartbeat *hb)
{
	pthread_mutex_lock(&g->lock);
	if (p)
		*p = g->progress;
	if (hb)
		*hb = g->hb;
	pthread_mutex_unlock(&g->lock);
}

void guestdev_reset_gap(struct guestdev *g)
{
	pthread_mutex_lock(&g->lock);
	g->hb.max_gap_ns = 0;
	pthread_mutex_unlock(&g->lock);
}
