/* SPDX-License-Identifier: MIT */
/*
 * enginesim dest: the engine's real receiver (as `vmig run --incoming`
 * runs it) into a guest double sized by the source's stream; the workload
 * the source's state names then runs here about a second, checking every
 * page it visits, before the process ends.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/tls_args.h"
#include "common/clock.h"
#include "common/parse.h"
#include "enginesim.h"
#include "guest_double.h"
#include "guest_state.h"
#include "modules_ram.h"
#include "progress.h"
#include "ramhash.h"
#include "workload.h"

/* Printed (and flushed) once the destination listens. */
#define DEST_LISTENING "enginesim: waiting for an incoming migration"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: enginesim dest --incoming tcp:HOST:PORT [--max-mem SIZE]\n"
		"         [--resume-timeout S] [--tls-creds DIR | --tls-psk FILE] [--serial FILE]\n"
		"\n"
		"Receive a migration from 'enginesim source' with vmig's engine into a TEST\n"
		"DOUBLE guest (plain memory, no KVM), resume it and run its workload for\n"
		"about a second, then end. stdout: '" DEST_LISTENING "'\n"
		"once listening, the guest's progress lines, and last 'enginesim: ram HASH'\n"
		"(the RAM as it arrived, before the guest ran again).\n"
		"\n"
		"  -i, --incoming URI     listen on tcp:HOST:PORT\n"
		"      --max-mem SIZE     refuse a guest with more RAM (default: this host's)\n"
		"      --resume-timeout S a link lost before the handover: keep the RAM and\n"
		"                         wait S s for the source to resume (default 60; 0: fail)\n"
		TLS_ARGS_HELP
		"      --tls-hostname NAME   only a source whose certificate carries NAME\n"
		"  -s, --serial FILE      the guest's progress lines here (default: stdout)\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 received, verified and run without a bad page; 1 otherwise;\n"
		"2 bad usage.\n");
}

struct dest_opts {
	const char *incoming, *serial;
	uint64_t max_mem, resume_timeout_s;
	struct tls_args tls;
	bool help;
};

enum { OPT_MAX_MEM = 1000, OPT_RESUME_TIMEOUT };

/* One option's value: 0, or -1 after saying what is wrong. */
static int parse_dest_value(int c, const char *arg, struct dest_opts *o)
{
	switch (c) {
	case 'i': o->incoming = arg; return 0;
	case 's': o->serial = arg; return 0;
	case OPT_MAX_MEM:
		if (!parse_size(arg, 1ull << 20, &o->max_mem) && o->max_mem >= ENGINESIM_MEM_MIN)
			return 0;
		fprintf(stderr, "enginesim dest: invalid --max-mem '%s': want 16M or more\n", arg);
		return -1;
	case OPT_RESUME_TIMEOUT:
		if (!parse_u64(arg, 0, 86400, &o->resume_timeout_s))
			return 0;
		fprintf(stderr, "enginesim dest: invalid --resume-timeout '%s': want 0..86400 s\n",
			arg);
		return -1;
	}
	return tls_args_take(&o->tls, c, arg) ? 0 : -1;
}

static int parse_dest_opts(int argc, char **argv, struct dest_opts *o)
{
	static const struct option opts[] = {
		{"incoming", required_argument, NULL, 'i'},
		{"max-mem", required_argument, NULL, OPT_MAX_MEM},
		{"resume-timeout", required_argument, NULL, OPT_RESUME_TIMEOUT},
		TLS_ARGS_OPTIONS,
		{"serial", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct dest_opts){.max_mem = enginesim_host_mem(),
				.resume_timeout_s = CLI_RESUME_TIMEOUT_DEFAULT_S};
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:s:h", opts, NULL)) != -1) {
		if (c == 'h') {
			o->help = true;
			return 0;
		} else if (c == ':' || c == '?') {
			fprintf(stderr, "enginesim dest: %s '%s'\n",
				c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		} else if (parse_dest_value(c, optarg, o)) {
			return CLI_EXIT_USAGE;
		}
	}
	if (!o->incoming || strncmp(o->incoming, "tcp:", 4) || optind < argc) {
		fprintf(stderr, "enginesim dest: need --incoming tcp:HOST:PORT and nothing else\n");
		return CLI_EXIT_USAGE;
	}
	return tls_args_check("enginesim dest", &o->tls, true) ? CLI_EXIT_USAGE : 0;
}

struct dest {
	struct dest_opts o;
	struct guest_double g;
	struct workload w;
	struct ramhash_snap snap;
	bool snap_on;
	struct progress pr;
	FILE *serial;
	struct guest_state st;
};

/* The source's state: the workload to run, set up with its vCPUs waiting. */
static int load_state(void *opaque, const uint8_t *blob, size_t len, char *err, size_t errlen)
{
	struct dest *d = opaque;
	int r = guest_state_decode(blob, len, &d->st, err, errlen);
	if (!r)
		r = workload_init(&d->w, &d->g, d->st.args, d->st.vcpus, d->st.mod_pages, err,
				  errlen);
	if (r)
		return r;
	if (d->st.mod_pages && d->st.mod_first != d->w.static_first) {
		snprintf(err, errlen, "enginesim state: modules at page %" PRIu64 ", the layout "
			 "puts them at %" PRIu64, d->st.mod_first, d->w.static_first);
		return -EINVAL;
	}
	d->w.passes_base = d->st.passes;
	if ((r = ramhash_snap_init(&d->snap, d->g.ram, d->g.pages))) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	d->snap_on = true;
	d->w.snap = &d->snap;
	return workload_start(&d->w, err, errlen);
}

static int save_state(void *opaque, uint8_t **blob, size_t *len, char *err, size_t errlen)
{
	snprintf(err, errlen, "a destination sends no state");
	return -EINVAL;
}

/* GO: the RAM as it arrived goes into the hash while the guest runs. */
static void before_resume(void *opaque)
{
	struct dest *d = opaque;
	ramhash_snap_start(&d->snap);
	progress_start(&d->pr, d->serial, &d->w, d->st.t_ms);
}

/* SIGINT/SIGTERM end the wait or the migration (the guest never runs). */
static struct vmig_incoming *volatile signal_target;

static void on_signal(int sig)
{
	struct vmig_incoming *in = signal_target;
	if (in)
		vmig_incoming_cancel(in);
}

/* Waits for a source and receives its guest: 0 with the guest running. */
static int receive(struct dest *d, struct vmig_incoming *in, char *err, size_t errlen)
{
	struct vmig_incoming_config cfg;
	struct vmig_incoming_stats st;
	struct gd_hooks hooks = {.save_state = save_state, .load_state = load_state,
				 .before_resume = before_resume, .opaque = d};
	struct vmig_guest guest;
	int r = vmig_incoming_accept(in, &cfg, err, errlen);
	if (r)
		return r;
	fprintf(stderr, "enginesim dest: incoming migration from %s\n", cfg.peer);
	if ((r = gd_create_regions(&d->g, cfg.regions, cfg.nr_regions, err, errlen))) {
		vmig_incoming_refuse(in, err);
		return r;
	}
	gd_iface(&d->g, &hooks, &guest);
	if ((r = vmig_incoming_run(in, &guest, &st, err, errlen)))
		return r;
	fprintf(stderr, "enginesim dest: received %" PRIu64 " normal + %" PRIu64 " zero pages in %"
		PRIu64 " passes, %" PRIu64 " ms, RAM digest %s\n", st.pages_normal, st.pages_zero,
		st.passes, st.total_ms, st.verified ? "verified" : "NOT verified");
	return 0;
}

/* Listens, says so, receives: 0 with the guest running here. */
static int listen_and_receive(struct dest *d, char *err, size_t errlen)
{
	struct vmig_incoming_params ip = VMIG_INCOMING_PARAMS_INIT;
	struct vmig_incoming *in;
	int r;

	ip.accept_timeout_ms = -1;
	ip.max_ram_bytes = d->o.max_mem;
	ip.resume_timeout_ms = d->o.resume_timeout_s * 1000;
	ip.tls_creds_dir = d->o.tls.creds ? d->o.tls.creds_abs : NULL;
	ip.tls_psk_file = d->o.tls.psk ? d->o.tls.psk_abs : NULL;
	ip.tls_hostname = d->o.tls.hostname;
	if ((r = vmig_incoming_listen(d->o.incoming, &ip.listen_fd, err, errlen)) ||
	    (r = vmig_incoming_create(&ip, &in, err, errlen)))
		return r;
	signal_target = in;
	printf(DEST_LISTENING "\n");
	fflush(stdout);
	r = receive(d, in, err, errlen);
	signal_target = NULL;
	vmig_incoming_free(in);
	return r;
}

/* The module pages as they left the source (nothing writes them): 0, or 1
 * after saying they did not arrive intact. */
static int check_modules(const struct dest *d)
{
	struct module_span span = {d->st.mod_first, d->st.mod_pages, d->st.mod_hash};
	if (!span.pages)
		return 0;
	if (modules_ram_hash(&d->g, &span) != span.hash) {
		fprintf(stderr, "enginesim dest: modules pages=%" PRIu64 " CHANGED: what arrived is "
			"not what the source laid\n", span.pages);
		return 1;
	}
	fprintf(stderr, "enginesim dest: modules pages=%" PRIu64 " intact\n", span.pages);
	return 0;
}

/* The guest runs ENGINESIM_DEST_RUN_MS (its first progress line); then
 * the RAM that arrived is hashed and the pages the guest found bad counted. */
static int run_guest(struct dest *d)
{
	struct wl_progress wp;
	uint64_t until = now_ns() + 3ull * ENGINESIM_DEST_RUN_MS * 1000000;
	while (progress_lines(&d->pr) < 1 && now_ns() < until)
		nanosleep(&(struct timespec){0, 10000000}, NULL);
	progress_stop(&d->pr);
	workload_stop(&d->w);
	workload_progress(&d->w, &wp);
	uint64_t hash = ramhash_snap_finish(&d->snap);
	d->snap_on = false;
	printf("enginesim: ram %016" PRIx64 "\n", hash);
	fflush(stdout);
	if (wp.errors) {
		fprintf(stderr, "enginesim dest: the guest found %" PRIu64 " bad pages\n", wp.errors);
		return 1;
	}
	return check_modules(d);
}

int enginesim_dest(int argc, char **argv)
{
	struct dest *d = calloc(1, sizeof(*d));
	char err[VMIG_MAX_ERROR];
	int status;

	if (!d) {
		fprintf(stderr, "enginesim dest: out of memory\n");
		return 1;
	}
	status = parse_dest_opts(argc, argv, &d->o);
	if (status || d->o.help) {
		if (d->o.help)
			usage(stdout);
		free(d);
		return status;
	}
	d->serial = d->o.serial ? fopen(d->o.serial, "w") : stdout;
	if (!d->serial) {
		fprintf(stderr, "enginesim dest: cannot write --serial '%s': %s\n", d->o.serial,
			strerror(errno));
		free(d);
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (listen_and_receive(d, err, sizeof(err))) {
		fprintf(stderr, "enginesim dest: %s\n", err);
		status = 1;
		progress_stop(&d->pr);
		workload_stop(&d->w);
	} else {
		status = run_guest(d);
	}
	if (d->snap_on)
		ramhash_snap_discard(&d->snap);
	workload_free(&d->w);
	gd_destroy(&d->g);
	if (d->serial != stdout)
		fclose(d->serial);
	free(d);
	return status;
}
