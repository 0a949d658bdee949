/* SPDX-License-Identifier: MIT */
#include "migration/active_channels.h"

#include <errno.h>
#include <stdio.h>

#include "common/log.h"
#include "migration/acks.h"
#include "migration/autopolicy.h"
#include "migration/sender_internal.h"
#include "migration/wire.h"

/* The caches' keys number a stream's pages along its chunks: a new layout
 * gives them other pages. Empty ones on the streams in use, sized again;
 * without memory for them, XBZRLE stops (all or none). */
static void restart_xbzrle(struct vmig_migration *m)
{
	bool on = m->streams[0].xbz != NULL; /* stream 0 is always in use */
	for (unsigned i = 0; i < m->nr_streams; i++)
		stream_drop_xbzrle(&m->streams[i]);
	for (unsigned i = 0; on && i < m->active_streams; i++)
		if (stream_start_xbzrle(&m->streams[i], m->p.xbzrle_cache_bytes / m->active_streams)) {
			for (unsigned k = 0; k <= i; k++)
				stream_drop_xbzrle(&m->streams[k]);
			log_warn("XBZRLE off: no memory for its caches on %u channels", m->active_streams);
			m->p.xbzrle_cache_bytes = 0;
			m->plan.xbzrle_bytes = 0;
			m->plan_in.xbzrle_dropped = true; /* not worth asking again */
			return;
		}
}

void active_channels_after_hello(struct vmig_migration *m, uint64_t ack_features)
{
	if ((ack_features & WIRE_ACK_FEATURE_QUIET_CHANNELS) || m->active_streams == m->nr_streams)
		return;
	m->plan_in.pinned |= PLAN_PIN_CHANNELS;
	m->plan.channels = m->nr_channels;
	m->active_streams = m->nr_streams;
	restart_xbzrle(m); /* the caches were made for the fewer channels planned */
	pthread_mutex_lock(&m->lock);
	m->st.active_channels = m->active_streams;
	pthread_mutex_unlock(&m->lock);
	autopolicy_record(m, "channels: all in use",
			  "the destination times out a data channel left out of a pass");
}

uint64_t active_channels_bandwidth(const struct vmig_migration *m)
{
	return m->p.max_bandwidth / (m->active_streams ? m->active_streams : 1);
}

int active_channels_set(struct vmig_migration *m, unsigned n, char *err, size_t errlen)
{
	if (!m->nr_channels || n == m->active_streams || n < 1 || n > m->nr_streams)
		return 0;
	int r = acks_wait_all(m, err, errlen);
	if (r)
		return r;
	m->active_streams = n;
	m->plan_xbz_judge_from = m->pass + 2; /* the next pass fills the new caches */
	restart_xbzrle(m);
	for (unsigned i = 0; i < m->nr_streams; i++) {
		struct channel *c = &m->streams[i].own;
		c->max_bandwidth = active_channels_bandwidth(m);
		c->rate_start_ns = 0; /* a new window at the new rate */
	}
	pthread_mutex_lock(&m->lock);
	m->st.active_channels = n;
	pthread_mutex_unlock(&m->lock);
	return 0;
}
