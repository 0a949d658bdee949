/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the VM state blob a destination VMM loads (src/vmm/vm_state.c),
 * phase 1 only: vm_state_decode then vm_state_validate against a fixed
 * host (no KVM needed). Input: one byte choosing the destination's vCPU
 * count (1..FUZZ_STATE_MAX_VCPUS), then the blob.
 *
 * Invariant besides the sanitizers: a blob that decodes encodes again into
 * bytes that decode to the same state (encode(decode(x)) is a fixed point),
 * and validation does not depend on which of the two it is given.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_state_host.h"
#include "fuzz_target.h"
#include "vmm/vm_state.h"

static int decode(const uint8_t *p, size_t n, unsigned nr_vcpus, struct vmm_state *st)
{
	char err[512];
	FUZZ_ASSERT(vm_state_init(st, nr_vcpus) == 0);
	uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
	FUZZ_ASSERT(copy);
	memcpy(copy, p, n);
	int r = vm_state_decode(copy, n, st, err, sizeof(err));
	free(copy);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmm_state st, again;
	uint8_t *once = NULL, *twice = NULL;
	size_t once_len, twice_len;
	char err[512];
	if (!size)
		return 0;
	unsigned nr_vcpus = 1 + data[0] % FUZZ_STATE_MAX_VCPUS;
	if (decode(data + 1, size - 1, nr_vcpus, &st)) {
		vm_state_free(&st);
		return 0;
	}
	bool valid = vm_state_validate(&st, &fuzz_state_host, err, sizeof(err)) == 0;
	FUZZ_ASSERT(vm_state_encode(&st, &once, &once_len) == 0);
	FUZZ_ASSERT(decode(once, once_len, nr_vcpus, &again) == 0);
	FUZZ_ASSERT(valid == (vm_state_validate(&again, &fuzz_state_host, err, sizeof(err)) == 0));
	FUZZ_ASSERT(vm_state_encode(&again, &twice, &twice_len) == 0);
	FUZZ_ASSERT(once_len == twice_len && memcmp(once, twice, once_len) == 0);
	free(once);
	free(twice);
	vm_state_free(&st);
	vm_state_free(&again);
	return 0;
}
