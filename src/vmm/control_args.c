/* SPDX-License-Identifier: MIT */
/* A request's arguments checked against its command's spec: see control_args.h. */
#include "vmm/control_args.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "common/errmsg.h"


static int wrong_type(const char *cmd, const struct control_arg *a, char *err, size_t errlen)
{
	static const char *const want[] = {
		[CONTROL_ARG_STRING] = "a string",
		[CONTROL_ARG_UINT] = "an unsigned integer",
		[CONTROL_ARG_INT] = "an integer",
		[CONTROL_ARG_BOOL] = "true or false",
	};
	errmsg_set(err, errlen, "%s: '%s' must be %s", cmd, a->name, want[a->type]);
	return -EINVAL;
}

/* The integer argument ld->key, beyond int64: out of range of any spec. */
static int beyond_int64(const char *cmd, const struct control_arg *a,
			const struct control_big_int *ld, char *err, size_t errlen)
{
	if (ld->negative && a->type == CONTROL_ARG_UINT)
		return wrong_type(cmd, a, err, errlen);
	errmsg_set(err, errlen, "%s: '%s' must be at %s %" PRId64 " (got an integer %s)", cmd, a->name,
		ld->negative ? "least" : "most", ld->negative ? a->min : a->max,
		ld->negative ? "below INT64_MIN" : "above INT64_MAX");
	return -EINVAL;
}

/* An integer argument into *n. Parsed loosely, integers are doubles. */
static int arg_integer(const char *cmd, const struct control_arg *a, const json_t *v, bool loose,
		       int64_t *n, char *err, size_t errlen)
{
	if (loose && json_is_real(v)) {
		double d = json_real_value(v);
		if (d >= 0x1p63)
			*n = INT64_MAX;
		else if (d < -0x1p63)
			*n = INT64_MIN;
		else
			*n = (int64_t)d;
		if (d > -0x1p63 && d < 0x1p63 && (double)*n != d)
			return wrong_type(cmd, a, err, errlen);
	} else if (json_is_integer(v)) {
		*n = json_integer_value(v);
	} else {
		return wrong_type(cmd, a, err, errlen);
	}
	if (a->type == CONTROL_ARG_UINT && *n < 0)
		return wrong_type(cmd, a, err, errlen);
	if (*n < a->min || *n > a->max) {
		errmsg_set(err, errlen, "%s: '%s' must be at %s %" PRId64 " (got %" PRId64 ")", cmd,
			a->name, *n < a->min ? "least" : "most", *n < a->min ? a->min : a->max, *n);
		return -EINVAL;
	}
	return 0;
}

/* Check one argument against its spec entry and store it in dest (if not NULL). */
static int arg_check(const char *cmd, const struct control_arg *a, const json_t *v, void *dest,
		     bool loose, char *err, size_t errlen)
{
	char *field = dest ? (char *)dest + a->offset : NULL;
	int64_t n;
	int rc;

	switch (a->type) {
	case CONTROL_ARG_STRING:
		if (!json_is_string(v))
			return wrong_type(cmd, a, err, errlen);
		if (field)
			*(const char **)field = json_string_value(v);
		return 0;
	case CONTROL_ARG_BOOL:
		if (!json_is_boolean(v))
			return wrong_type(cmd, a, err, errlen);
		if (field)
			*(bool *)field = json_is_true(v);
		return 0;
	case CONTROL_ARG_UINT:
	case CONTROL_ARG_INT:
		rc = arg_integer(cmd, a, v, loose, &n, err, errlen);
		if (rc == 0 && field && a->type == CONTROL_ARG_UINT)
			*(uint64_t *)field = (uint64_t)n;
		else if (rc == 0 && field)
			*(int64_t *)field = n;
		return rc;
	}
	return -EINVAL;
}

int control_args_check(const char *cmd, const json_t *args, const struct control_arg *spec,
		      void *dest, const struct control_big_int *ld, char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	int rc;

	json_object_foreach ((json_t *)args, key, v) {
		const struct control_arg *a = spec;
		while (a && a->name && strcmp(a->name, key) != 0)
			a++;
		if (!a || !a->name) {
			errmsg_set(err, errlen, "%s: unknown argument '%.64s'%s", cmd, key,
				spec && spec->name ? "" : " (it takes none)");
			return -EINVAL;
		}
		if (ld && ld->key && strcmp(key, ld->key) == 0 && json_is_real(v) &&
		    (a->type == CONTROL_ARG_UINT || a->type == CONTROL_ARG_INT))
			return beyond_int64(cmd, a, ld, err, errlen);
		rc = arg_check(cmd, a, v, dest, ld != NULL, err, errlen);
		if (rc < 0)
			return rc;
	}
	for (const struct control_arg *a = spec; a && a->name; a++) {
		if (a->required && !json_object_get(args, a->name)) {
			errmsg_set(err, errlen, "%s: missing argument '%s'", cmd, a->name);
			return -EINVAL;
		}
	}
	return 0;
}

int control_args_unpack(const char *cmd, const json_t *args, const struct control_arg *spec,
			void *dest, char *err, size_t errlen)
{
	return control_args_check(cmd, args, spec, dest, NULL, err, errlen);
}
