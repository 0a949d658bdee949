/* SPDX-License-Identifier: MIT */
/* vmig run: boot a guest and serve its control socket until it ends. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "accel/accel.h"
#include "cli/cli.h"
#include "cli/tls_args.h"
#include "common/log.h"
#include "common/parse.h"
#include "vmig/migration.h"
#include "vmm/vm.h"

#define MEM_MIN (16ull << 20)
#define MEM_MAX (128ull << 30)
/* long-only options */

/* The defaults of --max-mem and --max-vcpus: what this host has. */
static uint64_t host_mem_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : MEM_MAX;
}

static unsigned host_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmig run --guest FILE [OPTIONS]\n"
		"       vmig run --incoming tcp:HOST:PORT [--control PATH] [--serial DEST]\n"
		"\n"
		"Run a KVM virtual machine until its guest exits, 'quit' arrives on the\n"
		"control socket, or SIGINT/SIGTERM.\n"
		"\n"
		"  -m, --mem SIZE         guest RAM (default 256M; K/M/G suffix, no suffix = MiB)\n"
		"  -c, --vcpus N          vCPUs, 1..64 (default 1)\n"
		"  -g, --guest FILE       guest image: vmig direct-boot ELF or multiboot ELF\n"
		"  -a, --guest-args STR   guest command line (guestload: ws= rate= pattern= write=\n"
		"                         fill= time= seed=)\n"
		"      --module FILE[,FILE...]  load each file into guest RAM as a multiboot\n"
		"                         module (as QEMU's -initrd \"a,b\"): page aligned above\n"
		"                         the image, listed with its name in the boot info of\n"
		"                         either boot path (guestload: fill=modules)\n"
		"  -b, --boot MODE        auto (default: direct if the image supports it),\n"
		"                         direct or multiboot\n"
		"  -s, --serial DEST      guest serial output: stdio (default), none, or a file\n"
		"      --dirty-ring N     track dirty pages with KVM's dirty ring of N entries\n"
		"                         per vCPU (a power of two, 1024..65536; default: the\n"
		"                         bitmap); a migration's --dirty-limit then holds only\n"
		"                         the vCPUs that dirty, each for what it dirtied\n"
		"                         (experimental: not yet run on a KVM host)\n"
		"  -C, --control PATH     JSON control socket (see 'vmig status')\n"
		"  -i, --incoming URI     wait for a live migration on tcp:HOST:PORT; the VM\n"
		"                         (RAM size, vCPUs, state) comes from the source\n"
		"      --incoming-timeout S  give up if no source connects within S seconds\n"
		"                         (default: wait forever)\n"
		"      --resume-timeout S  a link lost before the handover: keep the RAM\n"
		"                         received and wait S s for the source to resume\n"
		"                         (default 60; 0: fail at once)\n"
		"      --max-mem SIZE     refuse an incoming VM with more RAM than this\n"
		"                         (default: this host's memory)\n"
		"      --max-vcpus N      refuse an incoming VM with more vCPUs than this\n"
		"                         (default: this host's CPUs)\n"
		"      --accel KIND       incoming: decompress through the offload engine, cpu\n"
		"                         (worker threads), qat or auto (QAT when present);\n"
		"                         default: on the receiving channel threads\n"
		"      --qatzip-path LIB  libqatzip.so.3 to load (default: the system's)\n"
		"      --qat-fallback HOW QAT without a device: cpu (default), qatzip\n"
		"                         (QATzip's software path), none (fail)\n"
		"      --qatzip-log LEVEL QATzip's own stderr lines: none (default), error,\n"
		"                         warning, info, debug\n"
		TLS_ARGS_HELP
		"      --tls-hostname NAME   only a source whose certificate carries NAME\n"
		"                            (default: any the CA signed)\n"
		"                            (--incoming only; a source without them is refused)\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: the guest's exit code when it exits through the exit port,\n"
		"0 after 'quit', a signal or a completed outgoing migration, 1 on a vmig\n"
		"error (an incoming migration that failed included), 2 on bad usage, 70\n"
		"when the guest crashes (triple fault, KVM internal error).\n");
}

struct run_opts {
	struct vm_config cfg;
	const char *incoming;
	int incoming_timeout_ms;
	uint64_t max_mem;        /* incoming VMs: limits checked before anything is allocated */
	unsigned max_vcpus;
	/* incoming: decompression offload (vmig_incoming_params.accel and co.) */
	const char *accel, *qatzip_path, *qat_fallback, *qatzip_log;
	struct tls_args tls;     /* incoming: TLS required of the source */
	uint64_t resume_timeout_ms; /* incoming: vmig_incoming_params' */
};



enum { OPT_ACCEL = 1000, OPT_QATZIP_PATH, OPT_QAT_FALLBACK, OPT_QATZIP_LOG, OPT_RESUME_TIMEOUT,
       OPT_MODULE, OPT_DIRTY_RING };

/* The offload options: 0, or -EINVAL after saying which is bad. */
static int check_accel_opts(const struct run_opts *o)
{
	struct accel_config cfg = {0};
	char err[160];
	if (o->accel && accel_kind_parse(o->accel, &cfg.kind)) {
		fprintf(stderr, "vmig run: invalid --accel '%s': want cpu, qat or auto\n", o->accel);
		return -EINVAL;
	}
	if (accel_config_set_qat_names(&cfg, o->qat_fallback, o->qatzip_log, err, sizeof(err))) {
		fprintf(stderr, "vmig run: %s\n", err);
		return -EINVAL;
	}
	if (!o->incoming && (o->accel || o->qatzip_path || o->qat_fallback || o->qatzip_log)) {
		fprintf(stderr, "vmig run: --accel and the QAT options are for --incoming (a source "
				"takes them from 'vmig migrate')\n");
		return -EINVAL;
	}
	return 0;
}

/* What parse_vm_value and parse_incoming_value return for an option of another group. */
#define NOT_THIS_GROUP 1

/* Every option's default: a 256 MiB, one-vCPU VM; incoming limits from this host. */
static void set_defaults(struct run_opts *o)
{
	struct vm_config *cfg = &o->cfg;

	memset(o, 0, sizeof(*o));
	o->incoming_timeout_ms = -1;
	o->resume_timeout_ms = CLI_RESUME_TIMEOUT_DEFAULT_S * 1000ull;
	o->max_mem = host_mem_bytes();
	o->max_vcpus = host_cpus();
	cfg->mem_bytes = 256ull << 20;
	cfg->nr_vcpus = 1;
	cfg->boot = BOOT_AUTO;
}

/* --boot's value into *mode: 0, or -EINVAL after saying it is unknown. */
static int parse_boot_mode(const char *arg, enum boot_mode *mode)
{
	if (!strcmp(arg, "auto"))
		*mode = BOOT_AUTO;
	else if (!strcmp(arg, "direct"))
		*mode = BOOT_DIRECT;
	else if (!strcmp(arg, "multiboot"))
		*mode = BOOT_MULTIBOOT;
	else {
		fprintf(stderr, "vmig run: invalid --boot '%s': want auto, direct or multiboot\n",
			arg);
		return -EINVAL;
	}
	return 0;
}

/* The options of the VM to boot (guest, boot, memory, dirty tracking, control):
 * 0, -EINVAL after saying what is wrong, or NOT_THIS_GROUP. */
static int parse_vm_value(int c, const char *arg, struct vm_config *cfg)
{
	uint64_t v;

	switch (c) {
	case 'm':
		if (parse_size(arg, 1ull << 20, &v) || v < MEM_MIN || v > MEM_MAX ||
		    v % (2ull << 20)) {
			fprintf(
			    stderr,
			    "vmig run: invalid --mem '%s': want 16M..128G, a multiple of 2 MiB\n",
			    arg);
			return -EINVAL;
		}
		cfg->mem_bytes = v;
		return 0;
	case 'c':
		if (parse_u64(arg, 1, 64, &v)) {
			fprintf(stderr, "vmig run: invalid --vcpus '%s': want 1..64\n", arg);
			return -EINVAL;
		}
		cfg->nr_vcpus = (unsigned)v;
		return 0;
	case 'g': cfg->guest_path = arg; return 0;
	case 'a': cfg->guest_args = arg; return 0;
	case OPT_MODULE:
		if (cfg->modules) {
			fprintf(stderr, "vmig run: --module given twice: list the files in one, "
					"comma-separated\n");
			return -EINVAL;
		}
		cfg->modules = arg;
		return 0;
	case 'b': return parse_boot_mode(arg, &cfg->boot);
	case 's': cfg->serial = arg; return 0;
	case OPT_DIRTY_RING:
		if (parse_u64(arg, DIRTY_RING_MIN_ENTRIES, DIRTY_RING_MAX_ENTRIES, &v) ||
		    (v & (v - 1))) {
			fprintf(stderr,
				"vmig run: invalid --dirty-ring '%s': want a power of two, "
				"%u..%u entries per vCPU\n",
				arg, DIRTY_RING_MIN_ENTRIES, DIRTY_RING_MAX_ENTRIES);
			return -EINVAL;
		}
		cfg->dirty_ring_entries = (uint32_t)v;
		return 0;
	case 'C': cfg->control_path = arg; return 0;
	}
	return NOT_THIS_GROUP;
}

/* The options of an incoming migration (limits, offload, TLS):
 * 0, -EINVAL after saying what is wrong, or NOT_THIS_GROUP. */
static int parse_incoming_value(int c, const char *arg, struct run_opts *o)
{
	uint64_t v;

	switch (c) {
	case 'i': o->incoming = arg; return 0;
	case 'T':
		if (parse_u64(arg, 1, 86400, &v)) {
			fprintf(stderr,
				"vmig run: invalid --incoming-timeout '%s': want 1..86400 s\n",
				arg);
			return -EINVAL;
		}
		o->incoming_timeout_ms = (int)(v * 1000);
		return 0;
	case 'M':
		if (parse_size(arg, 1ull << 20, &v) || v < MEM_MIN) {
			fprintf(stderr,
				"vmig run: invalid --max-mem '%s': want a size of 16M or more\n",
				arg);
			return -EINVAL;
		}
		o->max_mem = v;
		return 0;
	case 'V':
		if (parse_u64(arg, 1, 64, &v)) {
			fprintf(stderr, "vmig run: invalid --max-vcpus '%s': want 1..64\n", arg);
			return -EINVAL;
		}
		o->max_vcpus = (unsigned)v;
		return 0;
	case OPT_RESUME_TIMEOUT:
		if (parse_u64(arg, 0, 86400, &v)) {
			fprintf(stderr,
				"vmig run: invalid --resume-timeout '%s': want 0..86400 s\n", arg);
			return -EINVAL;
		}
		o->resume_timeout_ms = v * 1000;
		return 0;
	case OPT_ACCEL: o->accel = arg; return 0;
	case OPT_QATZIP_PATH: o->qatzip_path = arg; return 0;
	case OPT_QAT_FALLBACK: o->qat_fallback = arg; return 0;
	case OPT_QATZIP_LOG: o->qatzip_log = arg; return 0;
	}
	return tls_args_take(&o->tls, c, arg) ? 0 : NOT_THIS_GROUP;
}

/* Options that go together or exclude each other, once all are read:
 * 0, or -EINVAL after saying which clash. */
static int check_combination(struct run_opts *o)
{
	const struct vm_config *cfg = &o->cfg;

	if (check_accel_opts(o))
		return -EINVAL;
	if (o->incoming) {
		if (cfg->guest_path) {
			fprintf(stderr,
				"vmig run: --guest and --incoming exclude each other: the guest "
				"comes from the migration\n");
			return -EINVAL;
		}
		if (cfg->modules) {
			fprintf(stderr, "vmig run: --module and --incoming exclude each other: the "
					"modules arrive in the guest's RAM\n");
			return -EINVAL;
		}
		return tls_args_check("vmig run", &o->tls, true) ? -EINVAL : 0;
	}
	if (o->tls.creds || o->tls.psk || o->tls.hostname) {
		fprintf(stderr, "vmig run: --tls-creds, --tls-psk and --tls-hostname go with "
				"--incoming (the source's are given to vmig migrate)\n");
		return -EINVAL;
	}
	if (!cfg->guest_path) {
		fprintf(stderr, "vmig run: --guest FILE is required (or --incoming URI)\n");
		return -EINVAL;
	}
	return 0;
}

/* The command line into o: 0, 1 after --help, or -EINVAL after saying what is wrong. */
static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
		{"mem", required_argument, NULL, 'm'},
		{"vcpus", required_argument, NULL, 'c'},
		{"guest", required_argument, NULL, 'g'},
		{"guest-args", required_argument, NULL, 'a'},
		{"module", required_argument, NULL, OPT_MODULE},
		{"boot", required_argument, NULL, 'b'},
		{"serial", required_argument, NULL, 's'},
		{"dirty-ring", required_argument, NULL, OPT_DIRTY_RING},
		{"control", required_argument, NULL, 'C'},
		{"incoming", required_argument, NULL, 'i'},
		{"incoming-timeout", required_argument, NULL, 'T'},
		{"resume-timeout", required_argument, NULL, OPT_RESUME_TIMEOUT},
		{"max-mem", required_argument, NULL, 'M'},
		{"max-vcpus", required_argument, NULL, 'V'},
		{"accel", required_argument, NULL, OPT_ACCEL},
		{"qatzip-path", required_argument, NULL, OPT_QATZIP_PATH},
		{"qat-fallback", required_argument, NULL, OPT_QAT_FALLBACK},
		{"qatzip-log", required_argument, NULL, OPT_QATZIP_LOG},
		TLS_ARGS_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, r;

	set_defaults(o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:c:g:a:b:s:C:i:T:M:V:h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == ':') {
			fprintf(stderr, "vmig run: option '%s' needs a value\n", argv[optind - 1]);
			return -EINVAL;
		}
		r = parse_vm_value(c, optarg, &o->cfg);
		if (r == NOT_THIS_GROUP)
			r = parse_incoming_value(c, optarg, o);
		if (r == NOT_THIS_GROUP) {
			fprintf(stderr, "vmig run: unknown option '%s'\n", argv[optind - 1]);
			return -EINVAL;
		}
		if (r)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "vmig run: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return check_combination(o);
}

/* Waits for the VM to end or for SIGINT/SIGTERM (which end it). */
/* After handing the guest over, this process lingers until the final
 * migration status has been read with "release" (vmig migrate prints it)
 * or MIGRATED_LINGER_NS pass (a reader that never comes). */
#define MIGRATED_LINGER_NS 3000000000ull
static void check_migrated(struct vm *vm)
{
	pthread_mutex_lock(&vm->mig_lock);
	bool moved = vm->migrated_ns != 0;
	bool done = moved && (vm->final_stats_read || now_ns() - vm->migrated_ns > MIGRATED_LINGER_NS);
	pthread_mutex_unlock(&vm->mig_lock);
	if (done)
		vm_end(vm, VM_EXIT_OK, "the guest migrated away");
}

static void wait_for_end(struct vm *vm, int sfd)
{
	struct pollfd pfd[2] = {{.fd = vm->end_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
	for (;;) {
		check_migrated(vm);
		if (poll(pfd, 2, 100) < 0) {
			if (errno == EINTR)
				continue;
			vm_end(vm, VM_EXIT_ERROR, "poll: %s", strerror(errno));
			return;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				vm_end(vm, VM_EXIT_OK, "stopped by signal %u", si.ssi_signo);
		}
		if (pfd[0].revents & POLLIN)
			return;
	}
}

/* Vets a would-be source's VM before it is accepted (nothing allocated yet). */
static int check_incoming_config(void *opaque, const uint8_t *p, size_t len, char *why,
				 size_t whylen)
{
	const struct run_opts *o = opaque;
	struct vm_config cfg;
	int r = vm_config_decode(p, len, &cfg, why, whylen);
	if (r)
		return r;
	if (cfg.nr_vcpus > o->max_vcpus) {
		snprintf(why, whylen, "the source's VM has %u vCPUs; this host takes at most %u "
				      "(--max-vcpus)", cfg.nr_vcpus, o->max_vcpus);
		return -E2BIG;
	}
	if (cfg.mem_bytes > o->max_mem) {
		snprintf(why, whylen, "the source's VM has %llu MiB of RAM; this host takes at most "
				      "%llu MiB (--max-mem)", (unsigned long long)(cfg.mem_bytes >> 20),
			 (unsigned long long)(o->max_mem >> 20));
		return -E2BIG;
	}
	return 0;
}

/*
 * SIGINT/SIGTERM while the destination waits or receives: the main thread
 * is inside libvmig, so a watcher thread reads the signalfd and cancels
 * the incoming migration (which then ends cleanly, the guest never run).
 */
struct signal_watch {
	int sfd, stop_fd;
	struct vmig_incoming *in;
	pthread_t thread;
	bool on;
	int signo;               /* atomic: the signal that cancelled, 0 none */
};

static void *signal_watch_thread(void *arg)
{
	struct signal_watch *w = arg;
	struct pollfd pfd[2] = {{.fd = w->sfd, .events = POLLIN}, {.fd = w->stop_fd, .events = POLLIN}};
	pthread_setname_np(pthread_self(), "sigwatch");
	while (poll(pfd, 2, -1) >= 0 || errno == EINTR) {
		if (pfd[1].revents)
			break;
		struct signalfd_siginfo si;
		if ((pfd[0].revents & POLLIN) && read(w->sfd, &si, sizeof(si)) == sizeof(si) &&
		    si.ssi_signo != SIGPIPE) {
			__atomic_store_n(&w->signo, (int)si.ssi_signo, __ATOMIC_RELEASE);
			vmig_incoming_cancel(w->in);
			break;
		}
	}
	return NULL;
}

static void signal_watch_start(struct signal_watch *w, int sfd, struct vmig_incoming *in)
{
	memset(w, 0, sizeof(*w));
	w->sfd = sfd;
	w->in = in;
	w->stop_fd = eventfd(0, EFD_CLOEXEC);
	w->on = sfd >= 0 && w->stop_fd >= 0 &&
		pthread_create(&w->thread, NULL, signal_watch_thread, w) == 0;
}

/* Returns the signal that arrived meanwhile, 0 if none. */
static int signal_watch_stop(struct signal_watch *w)
{
	uint64_t one = 1;
	if (w->on && write(w->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(w->thread, NULL);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	return __atomic_load_n(&w->signo, __ATOMIC_ACQUIRE);
}

/* Builds the VM the accepted source describes and receives it. */
static int receive_vm(struct run_opts *o, struct vmig_incoming *in, struct vm **out, char *err,
		      size_t errlen)
{
	struct vmig_incoming_config icfg;
	struct vmig_incoming_stats st;
	struct vm_config cfg = o->cfg;
	int r;

	if ((r = vmig_incoming_accept(in, &icfg, err, errlen)))
		return r;
	log_info("incoming migration from %s", icfg.peer);
	if ((r = vm_config_decode(icfg.vmm_config, icfg.vmm_config_len, &cfg, err, errlen)) ||
	    (cfg.control_path = NULL, r = vm_create(&cfg, out, err, errlen))) {
		vmig_incoming_refuse(in, err);
		return r;
	}
	struct vmig_guest g;
	vm_guest_iface(*out, &g);
	if ((r = vmig_incoming_run(in, &g, &st, err, errlen)))
		return r;
	log_info("incoming migration complete: %llu normal + %llu zero pages in %llu passes, "
		 "%llu ms, RAM digest %s; %.3f CPU s decompressing (%s)",
		 (unsigned long long)st.pages_normal, (unsigned long long)st.pages_zero,
		 (unsigned long long)st.passes, (unsigned long long)st.total_ms,
		 st.verified ? "verified" : "NOT verified", (double)st.decompress_ns / 1e9,
		 st.accel[0] ? st.accel : "channel threads");
	return 0;
}

/* Destination side: wait for a source, build the VM it describes, receive.
 * Returns 0 with the VM running, 1 if a signal ended the wait, < 0 on error. */
static int run_incoming(struct run_opts *o, int sfd, struct vm **out, char *err, size_t errlen)
{
	struct vmig_incoming_params ip = {.size = sizeof(struct vmig_incoming_params), .accept_timeout_ms = o->incoming_timeout_ms,
					  .io_timeout_ms = VMIG_IO_TIMEOUT_DEFAULT_MS,
					  .max_ram_bytes = o->max_mem,
					  .check_config = check_incoming_config,
					  .opaque = o,
					  .accel = o->accel,
					  .qatzip_library = o->qatzip_path,
					  .qat_fallback = o->qat_fallback,
					  .qatzip_log = o->qatzip_log,
					  .tls_creds_dir = o->tls.creds ? o->tls.creds_abs : NULL,
					  .tls_psk_file = o->tls.psk ? o->tls.psk_abs : NULL,
					  .tls_hostname = o->tls.hostname,
					  .resume_timeout_ms = o->resume_timeout_ms};
	struct vmig_incoming *in = NULL;
	struct signal_watch sw;
	int r;

	if ((r = vmig_incoming_listen(o->incoming, &ip.listen_fd, err, errlen)) ||
	    (r = vmig_incoming_create(&ip, &in, err, errlen)))
		return r;
	log_info("waiting for an incoming migration on %s", o->incoming);
	signal_watch_start(&sw, sfd, in);
	r = receive_vm(o, in, out, err, errlen);
	int signo = signal_watch_stop(&sw);
	vmig_incoming_free(in);
	if (signo) {
		if (!r)
			vm_end(*out, VM_EXIT_OK, "stopped by signal %d", signo);
		else
			snprintf(err, errlen, "stopped by signal %d", signo);
		return r ? 1 : 0;
	}
	if (r)
		return r;
	if (o->cfg.control_path && (r = vm_control_start(*out, o->cfg.control_path, err, errlen)))
		log_warn("control socket: %s", err);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct run_opts opts;
	struct vm_config cfg;
	struct vm *vm = NULL;
	char err[512] = "";
	sigset_t set;
	int r;

	r = parse_args(argc, argv, &opts);
	cfg = opts.cfg;
	if (r > 0)
		return 0; /* --help */
	if (r < 0) {
		fprintf(stderr, "Try 'vmig run --help'.\n");
		return CLI_EXIT_USAGE;
	}
	/* Signals are taken through a signalfd; vCPU and control threads
	 * inherit the mask so SIGINT never lands on them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);

	if (opts.incoming) {
		if ((r = run_incoming(&opts, sfd, &vm, err, sizeof(err)))) {
			if (r > 0)
				log_info("incoming migration: %s; no VM ran here", err);
			else
				log_err("incoming migration failed: %s", err);
			vm_destroy(vm);
			if (sfd >= 0)
				close(sfd);
			return r > 0 ? VM_EXIT_OK : VM_EXIT_ERROR;
		}
		cfg = vm->cfg;
	} else if ((r = vm_create(&cfg, &vm, err, sizeof(err))) ||
		   (r = vm_start(vm, err, sizeof(err)))) {
		log_err("%s", err);
		vm_destroy(vm);
		if (sfd >= 0)
			close(sfd);
		return VM_EXIT_ERROR;
	}
	char size[32];
	log_info("VM %s: %s RAM, %u vCPU%s, %s entry, guest %s%s%s",
		 opts.incoming ? "running after migration" : "started",
		 format_size(cfg.mem_bytes, size, sizeof(size)), vm->nr_vcpus,
		 vm->nr_vcpus > 1 ? "s" : "",
		 vm->plan.mode == BOOT_DIRECT ? "direct 64-bit" : "multiboot",
		 opts.incoming ? opts.incoming : cfg.guest_path,
		 opts.cfg.control_path ? ", control " : "",
		 opts.cfg.control_path ? opts.cfg.control_path : "");
	wait_for_end(vm, sfd);
	pthread_mutex_lock(&vm->lock);
	int status = vm->exit_status;
	char reason[256];
	snprintf(reason, sizeof(reason), "%s", vm->end_reason);
	pthread_mutex_unlock(&vm->lock);
	if (status == VM_EXIT_GUEST_CRASH || status == VM_EXIT_ERROR)
		log_err("VM ended: %s", reason);
	else
		log_info("VM ended: %s", reason);
	vm_destroy(vm);
	if (sfd >= 0)
		close(sfd);
	return status;
}
