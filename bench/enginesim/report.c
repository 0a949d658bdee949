/* SPDX-License-Identifier: MIT */
/* enginesim source's figures: see report.h. */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "vmm/migrate_figures.h"

json_t *report_figures(const struct vmig_migrate_stats *st, struct guest_double *g)
{
	json_t *r = migrate_figures(st);
	/* as vmig's VMM with its dirty bitmap: a timed throttle when one ran */
	bool timed = __atomic_load_n(&g->throttled, __ATOMIC_ACQUIRE);
	uint64_t faults = __atomic_load_n(&g->write_faults, __ATOMIC_RELAXED);
	json_t *own = json_pack("{s:s, s:s, s:s, s:I, s:I}", "dirty_tracking", "bitmap",
				"throttle_path", timed ? "timed" : "none", "guest", "test-double",
				"write_fault_ns", json_u64(g->write_fault_ns), "write_faults",
				json_u64(faults));
	if (!r || json_object_update_new(r, own) < 0) { /* update_new takes own either way */
		if (!r)
			json_decref(own);
		json_decref(r);
		return NULL;
	}
	return r;
}

/* o as one line on f (compact; reals as vmig writes them). */
static int put_line(FILE *f, json_t *o)
{
	char *text = o ? json_dumps(o, VMIG_JSON_DUMP) : NULL;
	if (!text)
		return -ENOMEM;
	fprintf(f, "%s\n", text);
	fflush(f);
	free(text);
	return 0;
}

int report_sample(FILE *f, const struct vmig_migrate_stats *st, struct guest_double *g,
		  uint64_t t_ms)
{
	json_t *o = report_figures(st, g);
	int r = o && !json_object_set_new(o, "t_ms", json_integer(json_u64(t_ms))) ? put_line(f, o)
										    : -ENOMEM;
	json_decref(o);
	return r;
}

void report_final(const struct vmig_migrate_stats *st, struct guest_double *g, uint64_t ram_hash)
{
	char hash[17];
	snprintf(hash, sizeof(hash), "%016" PRIx64, ram_hash);
	printf("enginesim: ram %s\n", hash);
	json_t *o = report_figures(st, g);
	if (!o || json_object_set_new(o, "ram_hash", json_string(hash)) || put_line(stdout, o))
		printf("{\"status\": \"%s\", \"ram_hash\": \"%s\"}\n",
		       vmig_mig_status_name(st->status), hash);
	json_decref(o);
	fflush(stdout);
}

void report_start_failure(const char *why)
{
	json_t *o = json_pack("{s:s, s:o}", "status", "failed", "error", json_string_lossy(why));
	if (put_line(stdout, o))
		printf("{\"status\": \"failed\"}\n");
	json_decref(o);
}
