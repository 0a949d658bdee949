/* SPDX-License-Identifier: MIT */
/*
 * enginesim source: a guest double running guestload's workload, migrated
 * by the engine with `vmig migrate`'s flags (parsed by vmig's own parser,
 * src/cli/migrate_opts.c, and turned into the engine's parameters by the
 * VMM's own code, src/vmm/migrate_args.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/migrate_opts.h"
#include "common/clock.h"
#include "common/parse.h"
#include "enginesim.h"
#include "guest_double.h"
#include "guest_state.h"
#include "modules_ram.h"
#include "progress.h"
#include "ramhash.h"
#include "report.h"
#include "vmm/migrate_args.h"
#include "vmm/migrate_figures.h"
#include "workload.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: enginesim source --mem SIZE [--vcpus N] [--guest-args ARGS]\n"
		"         [--module FILE[,FILE...]] [--serial FILE] [--samples FILE] [--warmup-s S]\n"
		"         -- [vmig migrate's options] tcp:HOST:PORT\n"
		"\n"
		"Run guestload's workload on a TEST DOUBLE guest (plain memory and threads\n"
		"in this process, no KVM), then migrate it live with vmig's engine to\n"
		"'enginesim dest'. A benchmark tool: real sockets, real policy and codecs,\n"
		"a guest whose writes are threads' (docs/benchmarks.md).\n"
		"\n"
		"  -m, --mem SIZE         guest RAM (K/M/G suffix, no suffix = MiB; 16M or more)\n"
		"  -c, --vcpus N          vCPU threads \"vcpu0\"...; 1..64 (default 1)\n"
		"  -a, --guest-args ARGS  guestload's arguments: fill= ws= rate= write=\n"
		"                         pattern= writers= seed= (guest/README.md)\n"
		"      --module FILES     files laid into RAM after the working set, as vmig run\n"
		"                         --module lays boot modules; with fill=modules they are\n"
		"                         the guest's static content, the rest stays zero, and the\n"
		"                         destination checks they arrived intact (bench/content/)\n"
		"  -s, --serial FILE      guestload's progress line here once a second\n"
		"      --samples FILE     query-migrate's figures here every 100 ms, a JSON line\n"
		"                         each (with t_ms since the migration started)\n"
		"  -w, --warmup-s S       run the guest this long before migrating (default 2)\n"
		"      --write-fault-ns N a page's first write after its dirty bit was cleared\n"
		"                         costs its writer N ns, as a write-protection fault\n"
		"                         costs a KVM vCPU (0..1000000; default 0: free)\n"
		"  -h, --help             this text\n"
		"\n"
		"After '--', vmig migrate's options mean what they mean there (--control and\n"
		"--json are taken and ignored):\n"
		MIGRATE_OPTS_HELP
		"\n"
		"stdout ends with 'enginesim: ram HASH' (the RAM as the guest was paused for\n"
		"the handover) and one JSON object: vmig migrate --json's figures and\n"
		"\"ram_hash\". Exit status: 0 completed, 1 otherwise, 2 bad usage.\n");
}

struct source_opts {
	uint64_t mem, vcpus;
	const char *guest_args, *serial, *samples, *modules;
	double warmup_s;
	uint64_t write_fault_ns;
	struct migrate_opts mig;
	bool help;
};

/* One of the guest's options: 0, or -1 after saying what is wrong. */
static int parse_guest_value(int c, const char *arg, struct source_opts *o)
{
	char *end;
	switch (c) {
	case 'm':
		if (!parse_size(arg, 1ull << 20, &o->mem) && o->mem >= ENGINESIM_MEM_MIN &&
		    o->mem % (1ull << 20) == 0 && o->mem <= enginesim_host_mem())
			return 0;
		fprintf(stderr, "enginesim source: invalid --mem '%s': want whole MiB, 16M up to "
				"this host's memory\n", arg);
		return -1;
	case 'c':
		if (!parse_u64(arg, 1, WORKLOAD_MAX_VCPUS, &o->vcpus))
			return 0;
		fprintf(stderr, "enginesim source: invalid --vcpus '%s': want 1..%d\n", arg,
			WORKLOAD_MAX_VCPUS);
		return -1;
	case 'a':
		o->guest_args = arg;
		if (strlen(arg) >= GUEST_STATE_MAX_ARGS) {
			fprintf(stderr, "enginesim source: --guest-args longer than %d bytes\n",
				GUEST_STATE_MAX_ARGS - 1);
			return -1;
		}
		return 0; /* checked once --module is known too */
	case 'M': o->modules = arg; return 0;
	case 's': o->serial = arg; return 0;
	case 'S': o->samples = arg; return 0;
	case 'w':
		o->warmup_s = strtod(arg, &end);
		if (end != arg && !*end && o->warmup_s >= 0 && o->warmup_s <= ENGINESIM_WARMUP_MAX_S)
			return 0;
		fprintf(stderr, "enginesim source: invalid --warmup-s '%s': want 0..%.0f s\n", arg,
			ENGINESIM_WARMUP_MAX_S);
		return -1;
	case 'F':
		if (!parse_u64(arg, 0, ENGINESIM_WRITE_FAULT_MAX_NS, &o->write_fault_ns))
			return 0;
		fprintf(stderr, "enginesim source: invalid --write-fault-ns '%s': want 0..%d\n", arg,
			ENGINESIM_WRITE_FAULT_MAX_NS);
		return -1;
	}
	return -1;
}

/* The guest's options up to '--', then vmig migrate's: 0 or CLI_EXIT_USAGE. */
static int parse_source_opts(int argc, char **argv, struct source_opts *o)
{
	static const struct option opts[] = {
		{"mem", required_argument, NULL, 'm'},   {"vcpus", required_argument, NULL, 'c'},
		{"guest-args", required_argument, NULL, 'a'},
		{"serial", required_argument, NULL, 's'}, {"samples", required_argument, NULL, 'S'},
		{"warmup-s", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'},
		{"write-fault-ns", required_argument, NULL, 'F'},
		{"module", required_argument, NULL, 'M'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct source_opts){.vcpus = 1, .guest_args = "", .warmup_s = ENGINESIM_WARMUP_DEFAULT_S};
	migrate_opts_init(&o->mig, "enginesim source", false);
	optind = 1;
	opterr = 0;
	/* '+': stop at '--' (or the first non-option), where vmig migrate's begin */
	while ((c = getopt_long(argc, argv, "+:m:c:a:s:w:h", opts, NULL)) != -1) {
		if (c == 'h') {
			o->help = true;
			return 0;
		} else if (c == ':' || c == '?') {
			fprintf(stderr, "enginesim source: %s '%s'\n",
				c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		} else if (parse_guest_value(c, optarg, o)) {
			return CLI_EXIT_USAGE;
		}
	}
	if (!o->mem) {
		fprintf(stderr, "enginesim source: --mem SIZE is required\n");
		return CLI_EXIT_USAGE;
	}
	char err[256];
	if (workload_check_args(o->guest_args, o->modules != NULL, err, sizeof(err))) {
		fprintf(stderr, "enginesim source: %s\n", err);
		return CLI_EXIT_USAGE;
	}
	if (optind < 2 || strcmp(argv[optind - 1], "--")) {
		fprintf(stderr, "enginesim source: vmig migrate's options and the destination "
				"tcp:HOST:PORT go after '--'\n");
		return CLI_EXIT_USAGE;
	}
	/* argv[optind - 1] ("--") stands in for the program name */
	int r = migrate_opts_parse(argc - optind + 1, argv + optind - 1, &o->mig, usage);
	o->help = o->mig.help;
	return r;
}

/* vmig migrate's options as the engine's parameters, as the VMM takes them:
 * 0, or -EINVAL after saying why. *args holds the strings p points to. */
static int engine_params(const struct migrate_opts *mo, json_t **args, struct migrate_args *a,
			 struct vmig_migrate_params *p)
{
	char err[512];
	*args = migrate_opts_args(mo);
	if (!*args) {
		fprintf(stderr, "enginesim source: cannot encode the arguments (UTF-8?)\n");
		return -EINVAL;
	}
	if (control_args_unpack("migrate", *args, migrate_spec, a, err, sizeof(err)) ||
	    migrate_params(a, p, err, sizeof(err))) {
		fprintf(stderr, "enginesim source: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

struct source {
	struct source_opts o;
	struct guest_double g;
	struct workload w;
	struct module_span mods;
	struct progress pr;
	FILE *serial, *samples;
};

/* The state sent at the handover: the workload and the guest's clock. */
static int save_state(void *opaque, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	struct source *s = opaque;
	struct guest_state st = {.vcpus = s->w.nr_vcpus, .t_ms = progress_guest_ms(&s->pr)};
	struct wl_progress wp;
	workload_progress(&s->w, &wp);
	st.passes = wp.passes;
	st.mod_first = s->mods.first;
	st.mod_pages = s->mods.pages;
	st.mod_hash = s->mods.hash;
	snprintf(st.args, sizeof(st.args), "%s", s->o.guest_args);
	return guest_state_encode(&st, blob, len, err, errlen);
}

static int load_state(void *opaque, const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	snprintf(err, errlen, "a source takes no state");
	return -EINVAL;
}

/* path opened for lines (NULL: /dev/null), or NULL after saying why. */
static FILE *open_lines(const char *path, const char *what)
{
	FILE *f = fopen(path ? path : "/dev/null", "w");
	if (!f)
		fprintf(stderr, "enginesim source: cannot write %s '%s': %s\n", what, path,
			strerror(errno));
	return f;
}

/* The workload laid out and RAM filled, the --module files over it:
 * 0, or -1 with err. */
static int fill_guest(struct source *s, char *err, size_t errlen)
{
	struct boot_modules files = {0};
	if (s->o.modules && boot_modules_open(s->o.modules, &files, err, errlen))
		return -1;
	int r = workload_init(&s->w, &s->g, s->o.guest_args, (unsigned)s->o.vcpus,
			      modules_ram_pages(&files), err, errlen);
	if (!r && (r = workload_fill(&s->w)))
		snprintf(err, errlen, "cannot fill the guest's RAM");
	if (!r && files.count)
		r = modules_ram_load(&s->g, s->w.static_first, &files, &s->mods, err, errlen);
	boot_modules_close(&files); /* in guest RAM now */
	return r ? -1 : 0;
}

/* RAM filled, vCPUs running, progress lines, the guest interface in
 * *guest: 0, or -1 after saying why. */
static int start_guest(struct source *s, const struct gd_hooks *hooks, struct vmig_guest *guest)
{
	char err[512];
	uint64_t t0 = now_ns();
	if (gd_create(&s->g, s->o.mem, err, sizeof(err))) {
		fprintf(stderr, "enginesim source: %s\n", err);
		return -1;
	}
	s->g.write_fault_ns = s->o.write_fault_ns;
	if (fill_guest(s, err, sizeof(err)) || workload_start(&s->w, err, sizeof(err))) {
		fprintf(stderr, "enginesim source: %s\n", err);
		return -1;
	}
	gd_iface(&s->g, hooks, guest);
	fprintf(stderr, "enginesim source: %llu MiB filled in %llu ms; guest running\n",
		(unsigned long long)(s->o.mem >> 20), (unsigned long long)((now_ns() - t0) / 1000000));
	gd_run(&s->g);
	if (progress_start(&s->pr, s->serial, &s->w, 0)) {
		fprintf(stderr, "enginesim source: cannot start the progress thread\n");
		return -1;
	}
	struct timespec ts = {(time_t)s->o.warmup_s,
			      (long)((s->o.warmup_s - (double)(time_t)s->o.warmup_s) * 1e9)};
	nanosleep(&ts, NULL);
	return 0;
}

/* --plan: what --policy auto would start with; migrates nothing. */
static int show_plan(struct source *s, const struct vmig_guest *guest,
		     const struct vmig_migrate_params *p)
{
	struct vmig_migrate_plan plan = VMIG_MIGRATE_PLAN_INIT;
	char err[512];
	if (vmig_migration_plan(guest, p, &plan, err, sizeof(err))) {
		fprintf(stderr, "enginesim source: %s\n", err);
		return 1;
	}
	json_t *o = migrate_plan_figures(&plan);
	char *text = o ? json_dumps(o, VMIG_JSON_DUMP) : NULL;
	printf("%s\n", text ? text : "{}");
	free(text);
	json_decref(o);
	return 0;
}

/* Migrates, a sample every ENGINESIM_SAMPLE_MS, until a final status in *st. */
static int migrate(struct source *s, const struct vmig_guest *guest,
		   const struct vmig_migrate_params *p, struct vmig_migrate_stats *st)
{
	struct vmig_migration *m;
	char err[VMIG_MAX_ERROR];
	if (vmig_migration_start(guest, p, &m, err, sizeof(err))) {
		fprintf(stderr, "enginesim source: %s\n", err);
		report_start_failure(err);
		return -1;
	}
	uint64_t t0 = now_ns();
	for (;;) {
		struct timespec ts = {0, ENGINESIM_SAMPLE_MS * 1000000L};
		nanosleep(&ts, NULL);
		vmig_migration_query(m, st);
		report_sample(s->samples, st, &s->g, (now_ns() - t0) / 1000000);
		if (st->status == VMIG_MIG_COMPLETED || st->status == VMIG_MIG_FAILED ||
		    st->status == VMIG_MIG_CANCELLED || st->status == VMIG_MIG_UNCONFIRMED)
			break;
	}
	vmig_migration_free(m);
	return 0;
}

/* Everything after the options; the exit status. */
static int run_source(struct source *s)
{
	struct vmig_migrate_params p = VMIG_MIGRATE_PARAMS_INIT;
	struct vmig_migrate_stats st = VMIG_MIGRATE_STATS_INIT;
	struct migrate_args a = {0};
	struct gd_hooks hooks = {.save_state = save_state, .load_state = load_state, .opaque = s};
	struct vmig_guest guest;
	json_t *args = NULL;
	int status = 1;

	if (engine_params(&s->o.mig, &args, &a, &p)) {
		json_decref(args);
		return CLI_EXIT_USAGE;
	}
	if (!start_guest(s, &hooks, &guest)) {
		if (s->o.mig.plan)
			status = show_plan(s, &guest, &p);
		else if (!migrate(s, &guest, &p, &st))
			status = st.status == VMIG_MIG_COMPLETED ? 0 : 1;
	}
	if (status == 1 && st.status != VMIG_MIG_NONE)
		fprintf(stderr, "enginesim source: migration %s: %s\n", vmig_mig_status_name(st.status),
			st.error[0] ? st.error : "(no reason given)");
	progress_stop(&s->pr);
	workload_stop(&s->w);
	/* the vCPUs are gone: RAM is as the handover's pause left it */
	if (!s->o.mig.plan && st.status != VMIG_MIG_NONE)
		report_final(&st, &s->g, ramhash_all(s->g.ram, s->g.pages));
	json_decref(args);
	return status;
}

int enginesim_source(int argc, char **argv)
{
	struct source *s = calloc(1, sizeof(*s));
	int status;
	if (!s) {
		fprintf(stderr, "enginesim source: out of memory\n");
		return 1;
	}
	status = parse_source_opts(argc, argv, &s->o);
	if (status || s->o.help) {
		if (s->o.help)
			usage(stdout);
		free(s);
		return status;
	}
	s->serial = open_lines(s->o.serial, "--serial");
	s->samples = s->serial ? open_lines(s->o.samples, "--samples") : NULL;
	status = s->samples ? run_source(s) : 1;
	workload_free(&s->w);
	gd_destroy(&s->g);
	if (s->serial)
		fclose(s->serial);
	if (s->samples)
		fclose(s->samples);
	free(s);
	return status;
}
