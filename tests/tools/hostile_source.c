/* SPDX-License-Identifier: MIT */
/*
 * Test tool: a migration source that misbehaves on purpose, to check that
 * `vmig run --incoming` refuses bad streams cleanly. Usage:
 *   hostile_source tcp:HOST:PORT CASE [--vm MIB,VCPUS]
 * CASE: garbage | truncated | version | magic | page-range | bad-checksum | bad-page |
 *       bad-xbzrle | bad-compressed | huge-length | bad-count | wrong-order |
 *       state-garbage | digest | hangup, or any other case of hostile_streams.c
 *       (data channels, duplicated and reordered records: `hostile_source --list`).
 * Each case sends a (mostly) valid HELLO for a 64 MiB, 1-vCPU VM first
 * (--vm claims another size: a forged HELLO asking for too much), where
 * the case needs one, then its fault. The streams themselves are
 * built by hostile_streams.c, shared with the engine's unit test
 * (tests/unit/test_hostile.c). Exit 0 once the stream is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "hostile_streams.h"

/* The VMM's config blob: version, vcpus, mem, boot mode (direct). */
static void vmm_config(struct vbuf *cfg, uint64_t mem, uint32_t vcpus)
{
	vbuf_init(cfg);
	vbuf_put_u32(cfg, 1);
	vbuf_put_u32(cfg, vcpus);
	vbuf_put_u64(cfg, mem);
	vbuf_put_u32(cfg, 1);
}

int main(int argc, char **argv)
{
	char err[256];
	struct vbuf cfg;
	struct hostile_stream s;
	struct hostile_run run;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (unsigned i = 0; hostile_case_name(i); i++)
			printf("%s\n", hostile_case_name(i));
		return 0;
	}
	uint64_t mem = 64ull << 20;
	unsigned long vcpus = 1;
	if (argc == 5 && !strcmp(argv[3], "--vm")) {
		char *end;
		mem = strtoull(argv[4], &end, 10) << 20;
		vcpus = *end == ',' ? strtoul(end + 1, NULL, 10) : 0;
	} else if (argc != 3) {
		fprintf(stderr, "usage: %s tcp:HOST:PORT CASE [--vm MIB,VCPUS]\n", argv[0]);
		return 2;
	}
	vmm_config(&cfg, mem, (uint32_t)vcpus);
	struct hostile_layout l = {
	    .nr_regions = 1, .vmm_config = cfg.data, .vmm_config_len = (uint32_t)cfg.len};
	l.regions[0] = (struct wire_region){0, mem};
	if (hostile_stream_build(argv[2], &l, &s, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		hostile_stream_free(&s);
		vbuf_free(&cfg);
		return 2;
	}
	/* retry briefly: the destination may still be starting */
	if (hostile_send(&run, argv[1], &s, 5000, 5000, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		hostile_stream_free(&s);
		vbuf_free(&cfg);
		return 1;
	}
	/* Read whatever the destination answers (HELLO_ACK, READY, ERROR)
	 * until it closes, so the test sees the destination end the
	 * conversation. */
	hostile_finish(&run, &s, 30000);
	hostile_close(&run);
	hostile_stream_free(&s);
	vbuf_free(&cfg);
	return 0;
}
