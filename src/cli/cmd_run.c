/* SPDX-License-Identifier: MIT */
/* vmig run: boot a guest and serve its control socket until it ends. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/parse.h"
#include "vmig/migration.h"
#include "vmm/vm.h"

#define MEM_MIN (16ull << 20)
#define MEM_MAX (128ull << 30)

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
		"  -b, --boot MODE        auto (default: direct if the image supports it),\n"
		"                         direct or multiboot\n"
		"  -s, --serial DEST      guest serial output: stdio (default), none, or a file\n"
		"  -C, --control PATH     JSON control socket (see 'vmig status')\n"
		"  -i, --incoming URI     wait for a live migration on tcp:HOST:PORT; the VM\n"
		"                         (RAM size, vCPUs, state) comes from the source\n"
		"      --incoming-timeout S  give up if no source connects within S seconds\n"
		"                         (default: wait forever)\n"
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
};

static int parse_args(int argc, char **argv, struct run_opts *o)
{
	struct vm_config *cfg = &o->cfg;
	static const struct option opts[] = {
		{"mem", required_argument, NULL, 'm'},
		{"vcpus", required_argument, NULL, 'c'},
		{"guest", required_argument, NULL, 'g'},
		{"guest-args", required_argument, NULL, 'a'},
		{"boot", required_argument, NULL, 'b'},
		{"serial", required_argument, NULL, 's'},
		{"control", required_argument, NULL, 'C'},
		{"incoming", required_argument, NULL, 'i'},
		{"incoming-timeout", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->incoming_timeout_ms = -1;
	cfg->mem_bytes = 256ull << 20;
	cfg->nr_vcpus = 1;
	cfg->boot = BOOT_AUTO;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:c:g:a:b:s:C:i:T:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, 1ull << 20, &v) || v < MEM_MIN || v > MEM_MAX ||
			    v % (2ull << 20)) {
				fprintf(stderr,
					"vmig run: invalid --mem '%s': want 16M..128G, a multiple of 2 MiB\n",
					optarg);
				return -EINVAL;
			}
			cfg->mem_bytes = v;
			break;
		case 'c':
			if (parse_u64(optarg, 1, 64, &v)) {
				fprintf(stderr, "vmig run: invalid --vcpus '%s': want 1..64\n", optarg);
				return -EINVAL;
			}
			cfg->nr_vcpus = (unsigned)v;
			break;
		case 'g': cfg->guest_path = optarg; break;
		case 'a': cfg->guest_args = optarg; break;
		case 'b':
			if (!strcmp(optarg, "auto"))
				cfg->boot = BOOT_AUTO;
			else if (!strcmp(optarg, "direct"))
				cfg->boot = BOOT_DIRECT;
			else if (!strcmp(optarg, "multiboot"))
				cfg->boot = BOOT_MULTIBOOT;
			else {
				fprintf(stderr, "vmig run: invalid --boot '%s': want auto, direct or multiboot\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 's': cfg->serial = optarg; break;
		case 'C': cfg->control_path = optarg; break;
		case 'i': o->incoming = optarg; break;
		case 'T':
			if (parse_u64(optarg, 1, 86400, &v)) {
				fprintf(stderr, "vmig run: invalid --incoming-timeout '%s': want 1..86400 s\n",
					optarg);
				return -EINVAL;
			}
			o->incoming_timeout_ms = (int)(v * 1000);
			break;
		case 'h': usage(stdout); return 1;
		case ':':
			fprintf(stderr, "vmig run: option '%s' needs a value\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "vmig run: unknown option '%s'\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmig run: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (o->incoming) {
		if (cfg->guest_path) {
			fprintf(stderr, "vmig run: --guest and --incoming exclude each other: the guest "
					"comes from the migration\n");
			return -EINVAL;
		}
		return 0;
	}
	if (!cfg->guest_path) {
		fprintf(stderr, "vmig run: --guest FILE is required (or --incoming URI)\n");
		return -EINVAL;
	}
	return 0;
}

/* Waits for the VM to end or for SIGINT/SIGTERM (which end it). */
/* After handing the guest over, this process lingers until the final
 * migration status has been read (vmig migrate prints it) or 3 s pass. */
static void check_migrated(struct vm *vm)
{
	pthread_mutex_lock(&vm->mig_lock);
	bool moved = vm->migrated_ns != 0;
	bool done = moved && (vm->final_stats_read || now_ns() - vm->migrated_ns > 3000000000ull);
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

/* Destination side: accept a source, build the VM it describes, receive. */
static int run_incoming(struct run_opts *o, struct vm **out, char *err, size_t errlen)
{
	struct vmig_incoming *in = NULL;
	struct vmig_incoming_config icfg;
	struct vmig_incoming_stats st;
	struct vm_config cfg = o->cfg;
	int r;

	int lfd;
	if ((r = vmig_incoming_listen(o->incoming, &lfd, err, errlen)))
		return r;
	log_info("waiting for an incoming migration on %s", o->incoming);
	if ((r = vmig_incoming_accept(lfd, o->incoming_timeout_ms, 5000, &in, &icfg, err, errlen)))
		return r;
	log_info("incoming migration from %s", icfg.peer);
	if ((r = vm_config_decode(icfg.vmm_config, icfg.vmm_config_len, &cfg, err, errlen))) {
		vmig_incoming_refuse(in, err);
		vmig_incoming_free(in);
		return r;
	}
	cfg.control_path = NULL; /* served once the guest runs here */
	if ((r = vm_create(&cfg, out, err, errlen))) {
		vmig_incoming_refuse(in, err);
		vmig_incoming_free(in);
		return r;
	}
	struct vmig_guest g;
	vm_guest_iface(*out, &g);
	r = vmig_incoming_run(in, &g, &st, err, errlen);
	vmig_incoming_free(in);
	if (r)
		return r;
	log_info("incoming migration complete: %llu normal + %llu zero pages in %llu passes, "
		 "%llu ms, RAM digest %s",
		 (unsigned long long)st.pages_normal, (unsigned long long)st.pages_zero,
		 (unsigned long long)st.passes, (unsigned long long)st.total_ms,
		 st.verified ? "verified" : "NOT verified");
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
		if ((r = run_incoming(&opts, &vm, err, sizeof(err)))) {
			log_err("incoming migration failed: %s", err);
			vm_destroy(vm);
			if (sfd >= 0)
				close(sfd);
			return VM_EXIT_ERROR;
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
