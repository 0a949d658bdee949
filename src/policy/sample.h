/* SPDX-License-Identifier: MIT */
/*
 * What the guest's memory is like, from a sample: the share of zero pages,
 * and each codec's ratio and speed on the non-zero ones (one core, this
 * host), at its default level and at the one the planner may raise it to
 * (plan_raised_level). Feeds the planner; takes a few milliseconds.
 */
#ifndef VMIG_POLICY_SAMPLE_H
#define VMIG_POLICY_SAMPLE_H

#include "migration/ram.h"
#include "policy/planner.h"

#define SAMPLE_PAGES 256 /* spread evenly over guest RAM */

/* Fills in->zero_share, in->codec[] and in->raised[]; 0, or -ENOMEM. */
int sample_guest_memory(const struct ram_map *ram, struct plan_inputs *in);

#endif
