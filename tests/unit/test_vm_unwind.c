/* SPDX-License-Identifier: MIT */
/*
 * vm_create's unwinding when a step fails part-way, and vm_destroy after
 * it, with the VMM's other parts replaced by test doubles (fake_vm_deps.c):
 * no KVM is needed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "unittest.h"
#include "fake_vm_deps.h"
#include "vmm/vm.h"

/* How many fds this process has open. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/*
 * KVM refuses the second of three vCPUs: the first one's fd is closed,
 * and the third, never created, closes nothing (it used to close fd 0,
 * the process's stdin, as calloc had left its fd at 0).
 */
TEST(vcpu_creation_failure_closes_only_what_was_opened)
{
	struct vm_config cfg = {
	    .mem_bytes = 64 << 20, .nr_vcpus = 3, .incoming = true, .serial = "none"};
	struct vm *vm = NULL;
	char err[256] = "";

	/* fd 0 open, whatever the runner gave this process as stdin */
	if (fcntl(STDIN_FILENO, F_GETFD) < 0)
		CHECK_EQ_INT(open("/dev/null", O_RDONLY), STDIN_FILENO);
	fake_vm_deps_fail_vcpu = 1;
	int fds = open_fds();
	int r = vm_create(&cfg, &vm, err, sizeof(err));
	vm_destroy(vm);
	CHECK(r < 0);
	CHECK_STR(err, "KVM_CREATE_VCPU 1: test double fails");
	CHECK(fcntl(STDIN_FILENO, F_GETFD) >= 0);
	CHECK_EQ_INT(open_fds(), fds);
}

RUN_TESTS("vm_unwind", UT(vcpu_creation_failure_closes_only_what_was_opened))
