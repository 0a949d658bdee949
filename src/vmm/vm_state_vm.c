/* SPDX-License-Identifier: MIT */
/*
 * The VM-wide fields of the state blob (vm_state_fields.h): the KVM clock
 * and the in-kernel PIT, PICs and IOAPIC, each encoded, decoded and
 * checked against the values KVM's own device models can reach.
 */
#include <errno.h>
#include <string.h>

#include "vmm/vm_state_fields.h"

#define VS_CLOCK_FLAGS_KNOWN (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)
#define VS_PIT_FLAGS_KNOWN (KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)
#define VS_IOAPIC_BASE 0xfec00000ull /* where KVM's in-kernel IOAPIC sits, fixed */

/* ---- VM-wide fields ---- */

/* CLOCK: u64 clock, u32 flags, u64 realtime, u64 host_tsc. */
static void enc_clock(struct vbuf *b, const struct x86_vm_state *s)
{
	vbuf_put_u64(b, s->clock.clock);
	vbuf_put_u32(b, s->clock.flags);
	vbuf_put_u64(b, s->clock.realtime);
	vbuf_put_u64(b, s->clock.host_tsc);
}

static int dec_clock(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	s->clock.clock = vr_u64(r);
	s->clock.flags = vr_u32(r);
	s->clock.realtime = vr_u64(r);
	s->clock.host_tsc = vr_u64(r);
	return 0;
}

static int check_clock(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	if (s->clock.flags & ~VS_CLOCK_FLAGS_KNOWN)
		return vs_fail(c, "flags 0x%x has unknown bits", s->clock.flags);
	return 0;
}

/* PIT2: per channel u32 count, u16 latched_count, u8 count_latched
 * status_latched status read_state write_state write_latch rw_mode mode bcd
 * gate, u64 count_load_time; then u32 flags. */
static void enc_pit(struct vbuf *b, const struct x86_vm_state *s)
{
	for (unsigned i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *ch = &s->pit.channels[i];
		vbuf_put_u32(b, ch->count);
		vbuf_put_u16(b, ch->latched_count);
		const uint8_t f[10] = {ch->count_latched, ch->status_latched, ch->status,
				       ch->read_state,	  ch->write_state,    ch->write_latch,
				       ch->rw_mode,	  ch->mode,	      ch->bcd,
				       ch->gate};
		vbuf_put(b, f, sizeof(f));
		vbuf_put_u64(b, (uint64_t)ch->count_load_time);
	}
	vbuf_put_u32(b, s->pit.flags);
}

static int dec_pit(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	for (unsigned i = 0; i < 3; i++) {
		struct kvm_pit_channel_state *ch = &s->pit.channels[i];
		ch->count = vr_u32(r);
		ch->latched_count = vr_u16(r);
		uint8_t *f[10] = {&ch->count_latched, &ch->status_latched, &ch->status,
				  &ch->read_state,    &ch->write_state,	   &ch->write_latch,
				  &ch->rw_mode,	      &ch->mode,	   &ch->bcd,
				  &ch->gate};
		for (unsigned j = 0; j < 10; j++)
			*f[j] = vr_u8(r);
		ch->count_load_time = (int64_t)vr_u64(r);
	}
	s->pit.flags = vr_u32(r);
	return 0;
}

/* Values KVM's i8254 can reach: count 1..0x10000 (0 before the first load),
 * access states 0..4 (RW_STATE_LSB..WORD1), modes 0..5 or 0xff (reset). */
static int check_pit(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	for (unsigned i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *ch = &s->pit.channels[i];
		if (ch->count > 0x10000)
			return vs_fail(c, "channel %u count 0x%x is above 0x10000", i, ch->count);
		if (ch->count_latched > 3 || ch->rw_mode > 3)
			return vs_fail(c, "channel %u count_latched %u / rw_mode %u not 0..3", i,
				    ch->count_latched, ch->rw_mode);
		if (ch->read_state > 4 || ch->write_state > 4)
			return vs_fail(c, "channel %u read_state %u / write_state %u not 0..4", i,
				    ch->read_state, ch->write_state);
		if (ch->mode > 5 && ch->mode != 0xff)
			return vs_fail(c, "channel %u mode %u is not 0..5 (or 0xff, unset)", i,
				    ch->mode);
		if (ch->status_latched > 1 || ch->bcd > 1 || ch->gate > 1)
			return vs_fail(c, "channel %u status_latched/bcd/gate %u/%u/%u not 0 or 1", i,
				    ch->status_latched, ch->bcd, ch->gate);
	}
	if (s->pit.flags & ~VS_PIT_FLAGS_KNOWN)
		return vs_fail(c, "flags 0x%x has unknown bits", s->pit.flags);
	return 0;
}

/* PIC: the 16 u8 registers of struct kvm_pic_state, in its order. */
static void enc_pic(struct vbuf *b, const struct kvm_pic_state *p)
{
	const uint8_t f[16] = {p->last_irr,
			       p->irr,
			       p->imr,
			       p->isr,
			       p->priority_add,
			       p->irq_base,
			       p->read_reg_select,
			       p->poll,
			       p->special_mask,
			       p->init_state,
			       p->auto_eoi,
			       p->rotate_on_auto_eoi,
			       p->special_fully_nested_mode,
			       p->init4,
			       p->elcr,
			       p->elcr_mask};
	vbuf_put(b, f, sizeof(f));
}

static void dec_pic(struct vreader *r, struct kvm_pic_state *p)
{
	uint8_t *f[16] = {&p->last_irr,
			  &p->irr,
			  &p->imr,
			  &p->isr,
			  &p->priority_add,
			  &p->irq_base,
			  &p->read_reg_select,
			  &p->poll,
			  &p->special_mask,
			  &p->init_state,
			  &p->auto_eoi,
			  &p->rotate_on_auto_eoi,
			  &p->special_fully_nested_mode,
			  &p->init4,
			  &p->elcr,
			  &p->elcr_mask};
	for (unsigned i = 0; i < 16; i++)
		*f[i] = vr_u8(r);
}

/* Values KVM's i8259 can reach (flags are single bits, init_state 0..3). */
static int check_pic(const struct kvm_pic_state *p, const struct vs_ctx *c)
{
	static const char *const names[7] = {
	    "read_reg_select",		 "poll", "special_mask", "auto_eoi", "rotate_on_auto_eoi",
	    "special_fully_nested_mode", "init4"};
	const uint8_t bools[7] = {p->read_reg_select,
				  p->poll,
				  p->special_mask,
				  p->auto_eoi,
				  p->rotate_on_auto_eoi,
				  p->special_fully_nested_mode,
				  p->init4};
	int r;
	for (unsigned i = 0; i < 7; i++)
		if ((r = vs_check_bool(c, names[i], bools[i])))
			return r;
	if (p->priority_add > 7)
		return vs_fail(c, "priority_add %u is not 0..7", p->priority_add);
	if (p->irq_base & 7)
		return vs_fail(c, "irq_base 0x%x is not a multiple of 8", p->irq_base);
	if (p->init_state > 3)
		return vs_fail(c, "init_state %u is not 0..3", p->init_state);
	if (p->elcr & ~p->elcr_mask)
		return vs_fail(c, "ELCR 0x%x sets bits outside its mask 0x%x", p->elcr, p->elcr_mask);
	return 0;
}

static void enc_pic_master(struct vbuf *b, const struct x86_vm_state *s)
{
	enc_pic(b, &s->pic[0]);
}
static void enc_pic_slave(struct vbuf *b, const struct x86_vm_state *s)
{
	enc_pic(b, &s->pic[1]);
}

static int dec_pic_master(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	dec_pic(r, &s->pic[0]);
	return 0;
}

static int dec_pic_slave(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	dec_pic(r, &s->pic[1]);
	return 0;
}

static int check_pic_master(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	return check_pic(&s->pic[0], c);
}

static int check_pic_slave(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	return check_pic(&s->pic[1], c);
}

/* IOAPIC: u64 base_address, u32 ioregsel, u32 id, u32 irr, u32 pin count
 * (KVM_IOAPIC_NUM_PINS), then per pin its u64 redirection entry. */
static void enc_ioapic(struct vbuf *b, const struct x86_vm_state *s)
{
	vbuf_put_u64(b, s->ioapic.base_address);
	vbuf_put_u32(b, s->ioapic.ioregsel);
	vbuf_put_u32(b, s->ioapic.id);
	vbuf_put_u32(b, s->ioapic.irr);
	vbuf_put_u32(b, KVM_IOAPIC_NUM_PINS);
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		vbuf_put_u64(b, s->ioapic.redirtbl[i].bits);
}

static int dec_ioapic(struct vreader *r, struct x86_vm_state *s, const struct vs_ctx *c)
{
	s->ioapic.base_address = vr_u64(r);
	s->ioapic.ioregsel = vr_u32(r);
	s->ioapic.id = vr_u32(r);
	s->ioapic.irr = vr_u32(r);
	uint32_t pins = vr_u32(r);
	if (!r->bad && pins != KVM_IOAPIC_NUM_PINS)
		return vs_fail(c, "%u redirection entries, KVM's IOAPIC has %d", pins,
			    KVM_IOAPIC_NUM_PINS);
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++)
		s->ioapic.redirtbl[i].bits = vr_u64(r);
	return 0;
}

static int check_ioapic(const struct x86_vm_state *s, const struct vs_ctx *c)
{
	const struct kvm_ioapic_state *io = &s->ioapic;
	if (io->base_address != VS_IOAPIC_BASE)
		return vs_fail(c, "base address 0x%llx, KVM's IOAPIC is at 0x%llx",
			    (ull)io->base_address, VS_IOAPIC_BASE);
	if (io->ioregsel > 0xff)
		return vs_fail(c, "IOREGSEL 0x%x is not 8 bits", io->ioregsel);
	if (io->id > 0xf)
		return vs_fail(c, "ID %u is not 4 bits", io->id);
	if (io->irr >> KVM_IOAPIC_NUM_PINS)
		return vs_fail(c, "IRR 0x%x has bits beyond pin %d", io->irr, KVM_IOAPIC_NUM_PINS - 1);
	return 0;
}

const struct vm_field vm_state_vm_fields[] = {
    {VMS_F_CLOCK, "CLOCK", enc_clock, dec_clock, check_clock},
    {VMS_F_PIT2, "PIT2", enc_pit, dec_pit, check_pit},
    {VMS_F_PIC_MASTER, "PIC_MASTER", enc_pic_master, dec_pic_master, check_pic_master},
    {VMS_F_PIC_SLAVE, "PIC_SLAVE", enc_pic_slave, dec_pic_slave, check_pic_slave},
    {VMS_F_IOAPIC, "IOAPIC", enc_ioapic, dec_ioapic, check_ioapic},
};
const size_t vm_state_nr_vm_fields = sizeof(vm_state_vm_fields) / sizeof(vm_state_vm_fields[0]);
