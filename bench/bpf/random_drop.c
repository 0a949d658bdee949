/* A tc classifier for the fault benchmark (bench/suite/dropfilter.py):
 * attached with direct-action on a veth end's clsact ingress, it drops each
 * packet with probability DROP_THRESHOLD / 2^32, independently, and lets
 * the rest through. DROP_THRESHOLD is given at compile time
 * (clang -O2 -target bpf -DDROP_THRESHOLD=N); 2^32 drops everything (a
 * link outage). No headers: built on any host with clang, no libbpf. */

#define TC_ACT_UNSPEC (-1) /* not decided here: the packet goes on */
#define TC_ACT_SHOT 2      /* dropped */
#define BPF_FUNC_get_prandom_u32 7

#ifndef DROP_THRESHOLD
#error "DROP_THRESHOLD (0..2^32, drops per 2^32 packets) must be given"
#endif

static unsigned int (*bpf_get_prandom_u32)(void) = (void *)BPF_FUNC_get_prandom_u32;

__attribute__((section("classifier"), used)) int random_drop(void *skb)
{
	(void)skb;
	return (unsigned long long)bpf_get_prandom_u32() < (unsigned long long)DROP_THRESHOLD
		       ? TC_ACT_SHOT
		       : TC_ACT_UNSPEC;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
