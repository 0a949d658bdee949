/* SPDX-License-Identifier: MIT */
/* vmig migrate's options into the migrate command's arguments: see migrate_opts.h. */
#include "cli/migrate_opts.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/parse.h"
#include "vmig/vmig.h"

void migrate_opts_init(struct migrate_opts *o, const char *prog, bool need_control)
{
	*o = (struct migrate_opts){.prog = prog, .need_control = need_control,
				   .resume_timeout = CLI_RESUME_TIMEOUT_DEFAULT_S};
}



/* Long-only options (no short letter), and the migrate arguments the throttle ones set. */
enum { OPT_AUTO_CONVERGE = 1000, OPT_POLICY, OPT_PLAN, OPT_TAILSLOW, OPT_THR_TRIGGER, OPT_THR_INITIAL,
       OPT_THR_INCREMENT, OPT_THR_MAX, OPT_QAT_FALLBACK, OPT_QATZIP_LOG,
       OPT_THROTTLE_MODE, OPT_DIRTY_LIMIT, OPT_RESUME_TIMEOUT };
static const char *const throttle_keys[4] = {"throttle_trigger", "throttle_initial",
					     "throttle_increment", "throttle_max"};
static const char *const throttle_flags[4] = {"--throttle-trigger", "--throttle-initial",
					      "--throttle-increment", "--throttle-max"};

/* What the parse_*_value group parsers return for an option of another group. */
#define NOT_THIS_GROUP 1

/* The link and its timing (control socket, downtime, bandwidth, timeouts):
 * 0, -1 after saying what is wrong, or NOT_THIS_GROUP. */
static int parse_link_value(int c, const char *arg, struct migrate_opts *o)
{
	switch (c) {
	case 'C': o->control = arg; return 0;
	case 'd':
		if (!parse_u64(arg, 1, 3600000, &o->downtime))
			return 0;
		fprintf(stderr, "%s: invalid --downtime-ms '%s'\n", o->prog, arg);
		return -1;
	case 'b':
		if (!parse_size(arg, 1, &o->bw) && o->bw >= 4096)
			return 0;
		fprintf(stderr, "%s: invalid --max-bandwidth '%s' (bytes/s, >= 4K)\n", o->prog,
			arg);
		return -1;
	case 't':
		if (!parse_u64(arg, 1, 86400, &o->timeout))
			return 0;
		fprintf(stderr, "%s: invalid --timeout '%s': want 1..86400 s\n", o->prog, arg);
		return -1;
	case OPT_RESUME_TIMEOUT:
		if (!parse_u64(arg, 0, 86400, &o->resume_timeout))
			return 0;
		fprintf(stderr, "%s: invalid --resume-timeout '%s': want 0..86400 s\n", o->prog,
			arg);
		return -1;
	}
	return NOT_THIS_GROUP;
}

/* What goes on the wire and how many carry it (codec, level, threads,
 * channels, XBZRLE): 0, -1 after saying what is wrong, or NOT_THIS_GROUP. */
static int parse_compress_value(int c, const char *arg, struct migrate_opts *o)
{
	char *end;

	switch (c) {
	case 'z': o->codec = arg; return 0;
	case 'l':
		o->level = strtol(arg, &end, 10);
		o->have_level = true;
		if (!*end && end != arg && o->level >= -100 && o->level <= 100)
			return 0;
		fprintf(stderr, "%s: invalid --level '%s'\n", o->prog, arg);
		return -1;
	case 'T':
		if (!parse_u64(arg, 1, 64, &o->threads))
			return 0;
		fprintf(stderr, "%s: invalid --compress-threads '%s': want 1..64\n", o->prog, arg);
		return -1;
	case 'n':
		if (!parse_u64(arg, 0, VMIG_MAX_DATA_CHANNELS, &o->channels))
			return 0;
		fprintf(stderr, "%s: invalid --channels '%s': want 0..%d\n", o->prog, arg,
			VMIG_MAX_DATA_CHANNELS);
		return -1;
	case 'x':
		/* "off" is sent too: under auto it pins XBZRLE off */
		o->xbzrle = !strcmp(arg, "on") ? "on" : !strcmp(arg, "off") ? "off" : NULL;
		if (o->xbzrle)
			return 0;
		fprintf(stderr, "%s: --xbzrle wants on or off\n", o->prog);
		return -1;
	case 'X':
		if (!parse_size(arg, 1 << 20, &o->xcache) && o->xcache >= 4096)
			return 0;
		fprintf(stderr, "%s: invalid --xbzrle-cache '%s'\n", o->prog, arg);
		return -1;
	}
	return NOT_THIS_GROUP;
}

/* The offload engine and what it fails over to (--accel, QAT, QATzip):
 * 0, -1 after saying what is wrong, or NOT_THIS_GROUP. */
static int parse_offload_value(int c, const char *arg, struct migrate_opts *o)
{
	switch (c) {
	case 'a': o->accel = arg; return 0;
	case 'Q': o->qatzip = arg; return 0;
	case OPT_QAT_FALLBACK:
		o->qat_fallback = arg;
		if (!strcmp(arg, "none") || !strcmp(arg, "qatzip") || !strcmp(arg, "cpu"))
			return 0;
		fprintf(stderr, "%s: --qat-fallback wants none, qatzip or cpu\n", o->prog);
		return -1;
	case OPT_QATZIP_LOG:
		o->qatzip_log = arg;
		if (!strcmp(arg, "none") || !strcmp(arg, "error") || !strcmp(arg, "warning") ||
		    !strcmp(arg, "info") || !strcmp(arg, "debug"))
			return 0;
		fprintf(stderr,
			"%s: --qatzip-log wants none, error, warning, info or debug\n", o->prog);
		return -1;
	}
	return NOT_THIS_GROUP;
}

/* One of --throttle-trigger/-initial/-increment/-max (c) into o->throttle:
 * 0, or -1 after saying what is wrong. QEMU's ranges: the trigger up to
 * 100 %, the throttle steps up to 99 %. */
static int parse_throttle_pct(int c, const char *arg, struct migrate_opts *o)
{
	unsigned k = (unsigned)(c - OPT_THR_TRIGGER);
	int max = c == OPT_THR_TRIGGER ? 100 : 99;

	if (!parse_u64(arg, 1, (uint64_t)max, &o->throttle[k]))
		return 0;
	fprintf(stderr, "%s: invalid %s '%s': want a percentage (1..%d)\n", o->prog,
		throttle_flags[k], arg, max);
	return -1;
}

/* Convergence: the policy and what slows a guest that outruns the link
 * (auto-converge, throttle-*, dirty limit): 0, -1 after saying what is
 * wrong, or NOT_THIS_GROUP. */
static int parse_converge_value(int c, const char *arg, struct migrate_opts *o)
{
	switch (c) {
	case OPT_POLICY:
		o->policy = arg;
		if (!strcmp(arg, "auto") || !strcmp(arg, "fixed"))
			return 0;
		fprintf(stderr, "%s: --policy wants auto or fixed\n", o->prog);
		return -1;
	case OPT_PLAN: o->plan = true; return 0;
	case OPT_AUTO_CONVERGE: o->auto_converge = true; return 0;
	case OPT_TAILSLOW: o->tailslow = true; return 0;
	case OPT_THR_TRIGGER:
	case OPT_THR_INITIAL:
	case OPT_THR_INCREMENT:
	case OPT_THR_MAX: return parse_throttle_pct(c, arg, o);
	case OPT_THROTTLE_MODE:
		o->throttle_mode = arg;
		if (!strcmp(arg, "auto-converge") || !strcmp(arg, "dirty-rate"))
			return 0;
		fprintf(stderr,
			"%s: --throttle-mode wants auto-converge or dirty-rate\n", o->prog);
		return -1;
	case OPT_DIRTY_LIMIT:
		if (!parse_size(arg, 1, &o->dirty_limit) && o->dirty_limit >= 4096)
			return 0;
		fprintf(stderr, "%s: invalid --dirty-limit '%s' (bytes/s, >= 4K)\n", o->prog, arg);
		return -1;
	}
	return NOT_THIS_GROUP;
}

/* One option's value into o: 0, or -1 after saying what is wrong with it. */
static int parse_value(int c, const char *arg, struct migrate_opts *o)
{
	int r = parse_link_value(c, arg, o);

	if (r == NOT_THIS_GROUP)
		r = parse_compress_value(c, arg, o);
	if (r == NOT_THIS_GROUP)
		r = parse_offload_value(c, arg, o);
	if (r == NOT_THIS_GROUP)
		r = parse_converge_value(c, arg, o);
	if (r == NOT_THIS_GROUP && tls_args_take(&o->tls, c, arg))
		r = 0;
	/* Only an option in migrate_opts_parse's table that no group takes gets here: a bug, not input. */
	return r == NOT_THIS_GROUP ? -1 : r;
}

int migrate_opts_parse(int argc, char **argv, struct migrate_opts *o, void (*usage)(FILE *))
{
	static const struct option opts[] = {
		{"control", required_argument, NULL, 'C'},
		{"downtime-ms", required_argument, NULL, 'd'},
		{"max-bandwidth", required_argument, NULL, 'b'},
		{"timeout", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"channels", required_argument, NULL, 'n'},
		{"codec", required_argument, NULL, 'z'},
		{"level", required_argument, NULL, 'l'},
		{"accel", required_argument, NULL, 'a'},
		{"compress-threads", required_argument, NULL, 'T'},
		{"xbzrle", required_argument, NULL, 'x'},
		{"xbzrle-cache", required_argument, NULL, 'X'},
		{"qatzip-path", required_argument, NULL, 'Q'},
		{"auto-converge", no_argument, NULL, OPT_AUTO_CONVERGE},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"plan", no_argument, NULL, OPT_PLAN},
		{"throttle-tailslow", no_argument, NULL, OPT_TAILSLOW},
		{"throttle-trigger", required_argument, NULL, OPT_THR_TRIGGER},
		{"throttle-initial", required_argument, NULL, OPT_THR_INITIAL},
		{"throttle-increment", required_argument, NULL, OPT_THR_INCREMENT},
		{"throttle-max", required_argument, NULL, OPT_THR_MAX},
		{"qat-fallback", required_argument, NULL, OPT_QAT_FALLBACK},
		{"qatzip-log", required_argument, NULL, OPT_QATZIP_LOG},
		{"throttle-mode", required_argument, NULL, OPT_THROTTLE_MODE},
		{"dirty-limit", required_argument, NULL, OPT_DIRTY_LIMIT},
		TLS_ARGS_OPTIONS,
		{"resume-timeout", required_argument, NULL, OPT_RESUME_TIMEOUT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":C:d:b:t:n:z:l:a:T:x:X:Q:jh", opts, NULL)) != -1) {
		if (c == 'j') {
			o->json = true;
		} else if (c == 'h') {
			o->help = true;
			return 0;
		} else if (c == ':') {
			fprintf(stderr, "%s: option '%s' needs a value\n", o->prog, argv[optind - 1]);
			return CLI_EXIT_USAGE;
		} else if (c == '?') {
			fprintf(stderr, "%s: unknown option '%s'\n", o->prog, argv[optind - 1]);
			usage(stderr);
			return CLI_EXIT_USAGE;
		} else if (parse_value(c, optarg, o) < 0) {
			return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		o->uri = argv[optind++];
	if ((o->need_control && !o->control) || !o->uri || optind < argc) {
		fprintf(stderr, "%s: need %sone destination tcp:HOST:PORT\n", o->prog,
			o->need_control ? "--control PATH and " : "");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strncmp(o->uri, "tcp:", 4) != 0) {
		fprintf(stderr, "%s: destination '%s' must be tcp:HOST:PORT\n", o->prog, o->uri);
		return CLI_EXIT_USAGE;
	}
	return tls_args_check(o->prog, &o->tls, false) ? CLI_EXIT_USAGE : 0;
}

json_t *migrate_opts_args(const struct migrate_opts *o)
{
	json_t *a = json_pack("{s:s, s:s*, s:s*, s:s*, s:s*, s:s*}", "uri", o->uri, "codec",
			      o->codec, "accel", o->accel, "qatzip_path", o->qatzip, "qat_fallback",
			      o->qat_fallback, "qatzip_log", o->qatzip_log);
	int bad = 0;

	if (a && o->downtime)
		bad |= json_object_set_new(a, "downtime_ms", json_integer(json_u64(o->downtime)));
	if (a && o->bw)
		bad |= json_object_set_new(a, "max_bandwidth", json_integer(json_u64(o->bw)));
	if (a && o->timeout)
		bad |= json_object_set_new(a, "timeout_ms", json_integer(json_u64(o->timeout * 1000)));
	if (a && o->channels)
		bad |= json_object_set_new(a, "channels", json_integer(json_u64(o->channels)));
	if (a && o->have_level)
		bad |= json_object_set_new(a, "level", json_integer(o->level));
	if (a && o->threads)
		bad |= json_object_set_new(a, "compress_threads", json_integer(json_u64(o->threads)));
	if (a && o->xbzrle)
		bad |= json_object_set_new(a, "xbzrle", json_string(o->xbzrle));
	if (a && o->xcache)
		bad |= json_object_set_new(a, "xbzrle_cache", json_integer(json_u64(o->xcache)));
	if (a && o->auto_converge)
		bad |= json_object_set_new(a, "auto_converge", json_true());
	if (a)
		bad |= json_object_set_new(a, "policy", json_string(o->policy ? o->policy : "auto"));
	if (a && o->tailslow)
		bad |= json_object_set_new(a, "throttle_tailslow", json_true());
	if (a && o->throttle_mode)
		bad |= json_object_set_new(a, "throttle_mode", json_string(o->throttle_mode));
	if (a)
		bad |= json_object_set_new(a, "resume_timeout_ms",
					   json_integer(json_u64(o->resume_timeout * 1000)));
	if (a && o->dirty_limit)
		bad |= json_object_set_new(a, "dirty_limit", json_integer(json_u64(o->dirty_limit)));
	if (a && o->tls.creds)
		bad |= json_object_set_new(a, "tls_creds", json_string(o->tls.creds_abs));
	if (a && o->tls.psk)
		bad |= json_object_set_new(a, "tls_psk", json_string(o->tls.psk_abs));
	if (a && o->tls.hostname)
		bad |= json_object_set_new(a, "tls_hostname", json_string(o->tls.hostname));
	for (unsigned k = 0; a && k < 4; k++)
		if (o->throttle[k])
			bad |= json_object_set_new(a, throttle_keys[k],
						   json_integer(json_u64(o->throttle[k])));
	if (bad) {
		json_decref(a);
		return NULL;
	}
	return a;
}
