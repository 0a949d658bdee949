/* SPDX-License-Identifier: MIT */
/* The guest double's state at the handover: see guest_state.h. */
#include "guest_state.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define STATE_MAGIC "enginesim-state 2\n"

int guest_state_encode(const struct guest_state *s, uint8_t **blob, size_t *len, char *err,
		       size_t errlen)
{
	size_t cap = sizeof(STATE_MAGIC) + 192 + strlen(s->args);
	char *b = malloc(cap);
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	int n = snprintf(b, cap,
			 STATE_MAGIC "vcpus=%u\nt_ms=%" PRIu64 "\npasses=%" PRIu64 "\nmod_first=%" PRIu64
				     "\nmod_pages=%" PRIu64 "\nmod_hash=%" PRIu64 "\nargs=%s",
			 s->vcpus, s->t_ms, s->passes, s->mod_first, s->mod_pages, s->mod_hash,
			 s->args);
	if (n < 0 || (size_t)n >= cap) {
		free(b);
		snprintf(err, errlen, "state too large");
		return -E2BIG;
	}
	*blob = (uint8_t *)b;
	*len = (size_t)n; /* no NUL: the decoder takes the length */
	return 0;
}

/* "KEY=" then a decimal number and a newline at *p; advances *p. */
static int take_number(const char **p, const char *end, const char *key, uint64_t *v)
{
	size_t k = strlen(key);
	const char *s = *p;
	if ((size_t)(end - s) <= k || memcmp(s, key, k))
		return -1;
	s += k;
	uint64_t x = 0;
	const char *digits = s;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1; /* more than 64 bits */
		x = x * 10 + d;
	}
	if (s == digits || s >= end || *s != '\n')
		return -1;
	*v = x;
	*p = s + 1;
	return 0;
}

int guest_state_decode(const uint8_t *blob, size_t len, struct guest_state *s, char *err,
		       size_t errlen)
{
	const char *p = (const char *)blob, *end = p + len;
	size_t magic = strlen(STATE_MAGIC);
	uint64_t vcpus;

	memset(s, 0, sizeof(*s));
	if (len < magic || memcmp(p, STATE_MAGIC, magic) ||
	    (p += magic, take_number(&p, end, "vcpus=", &vcpus)) ||
	    take_number(&p, end, "t_ms=", &s->t_ms) || take_number(&p, end, "passes=", &s->passes) ||
	    take_number(&p, end, "mod_first=", &s->mod_first) ||
	    take_number(&p, end, "mod_pages=", &s->mod_pages) ||
	    take_number(&p, end, "mod_hash=", &s->mod_hash) ||
	    (size_t)(end - p) < 5 || memcmp(p, "args=", 5)) {
		snprintf(err, errlen, "not an enginesim source's state");
		return -EINVAL;
	}
	p += 5;
	if (vcpus < 1 || vcpus > WORKLOAD_MAX_VCPUS || (size_t)(end - p) >= sizeof(s->args) ||
	    memchr(p, 0, (size_t)(end - p))) {
		snprintf(err, errlen, "enginesim state: bad vCPU count or arguments");
		return -EINVAL;
	}
	s->vcpus = (unsigned)vcpus;
	memcpy(s->args, p, (size_t)(end - p));
	return 0;
}
