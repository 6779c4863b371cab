/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf: the BPF side of USDT probes (SEC("usdt/PATH:PROVIDER:NAME") programs).
 *
 *   SEC("usdt")
 *   int BPF_USDT(on_query, long id, const char *sql) { ... }
 *
 *   bpf_usdt_arg_cnt(ctx)         the number of arguments of the probe that fired
 *   bpf_usdt_arg(ctx, n, &value)  argument n (0-based), sign- or zero-extended to 64 bits;
 *                                 0 on success, -ENOENT for no such argument, -ESRCH when
 *                                 the program was not attached through pybpf.link.usdt()
 *   bpf_usdt_cookie(ctx)          the cookie given to pybpf.link.usdt(..., cookie=)
 *
 * How it works: pybpf.link.usdt() parses the probe's argument specs from the binary's
 * .note.stapsdt note (e.g. "-4@-20(%rbp) 8@%rax 4@$5"), writes one struct __pybpf_usdt_spec
 * per probe site into the ARRAY map __pybpf_usdt_specs declared below, and attaches a uprobe
 * at the site whose BPF cookie is that spec's index. Each argument is a constant, a
 * register (its offset in struct pt_regs), or memory at register + offset, read with
 * bpf_probe_read_user(). Needs BPF cookies (kernel >= 5.15).
 *
 * The map holds PYBPF_USDT_MAX_SPECS sites (256; define it before including to change it).
 * The layout below is mirrored by pybpf/link/_usdt_spec.py: change both together.
 */
#ifndef __PYBPF_USDT_BPF_H
#define __PYBPF_USDT_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifndef PYBPF_USDT_MAX_SPECS
#define PYBPF_USDT_MAX_SPECS 256
#endif
#define PYBPF_USDT_MAX_ARGS 12

enum __pybpf_usdt_arg_kind {
	PYBPF_USDT_ARG_CONST = 0,     /* val_off is the value */
	PYBPF_USDT_ARG_REG = 1,       /* the register at reg_off in struct pt_regs */
	PYBPF_USDT_ARG_REG_DEREF = 2, /* memory at register + val_off */
};

struct __pybpf_usdt_arg {
	__u64 val_off;
	__u32 kind;
	__u16 reg_off;
	__u8 size;      /* 1, 2, 4 or 8 bytes */
	__u8 is_signed;
};

struct __pybpf_usdt_spec {
	struct __pybpf_usdt_arg args[PYBPF_USDT_MAX_ARGS];
	__u64 usdt_cookie;
	__u16 arg_cnt;
	__u16 __pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PYBPF_USDT_MAX_SPECS);
	__type(key, __u32);
	__type(value, struct __pybpf_usdt_spec);
} __pybpf_usdt_specs SEC(".maps") __weak;

static __always_inline const struct __pybpf_usdt_spec *___pb_usdt_spec(struct pt_regs *ctx)
{
	__u32 id = (__u32)bpf_get_attach_cookie(ctx);

	return bpf_map_lookup_elem(&__pybpf_usdt_specs, &id);
}

/* the number of arguments of the probe that fired (-ESRCH without a spec) */
static __always_inline int bpf_usdt_arg_cnt(struct pt_regs *ctx)
{
	const struct __pybpf_usdt_spec *spec = ___pb_usdt_spec(ctx);

	return spec ? spec->arg_cnt : -3 /* -ESRCH */;
}

/* the cookie given to pybpf.link.usdt(..., cookie=) (0 without a spec) */
static __always_inline __u64 bpf_usdt_cookie(struct pt_regs *ctx)
{
	const struct __pybpf_usdt_spec *spec = ___pb_usdt_spec(ctx);

	return spec ? spec->usdt_cookie : 0;
}

/* argument n (0-based) of the probe that fired, extended to 64 bits, in *res */
static __always_inline int bpf_usdt_arg(struct pt_regs *ctx, __u64 n, long *res)
{
	const struct __pybpf_usdt_spec *spec = ___pb_usdt_spec(ctx);
	const struct __pybpf_usdt_arg *arg;
	unsigned long val = 0;
	int shift, err;

	*res = 0;
	if (!spec)
		return -3; /* -ESRCH */
	if (n >= PYBPF_USDT_MAX_ARGS || n >= spec->arg_cnt)
		return -2; /* -ENOENT */
	barrier_var(n);
	if (n >= PYBPF_USDT_MAX_ARGS)
		return -2;
	arg = &spec->args[n];
	switch (arg->kind) {
	case PYBPF_USDT_ARG_CONST:
		val = arg->val_off;
		break;
	case PYBPF_USDT_ARG_REG:
		err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off);
		if (err)
			return err;
		break;
	case PYBPF_USDT_ARG_REG_DEREF:
		err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off);
		if (err)
			return err;
		err = bpf_probe_read_user(&val, sizeof(val), (void *)(val + arg->val_off));
		if (err)
			return err;
		break;
	default:
		return -22; /* -EINVAL */
	}
	/* keep the low `size` bytes (little-endian reads), then sign- or zero-extend */
	shift = 64 - 8 * (int)arg->size;
	if (shift > 0 && shift < 64) {
		val <<= shift;
		if (arg->is_signed)
			val = (unsigned long)((long)val >> shift);
		else
			val >>= shift;
	}
	*res = (long)val;
	return 0;
}

static __always_inline long ___pb_usdt_arg(struct pt_regs *ctx, __u64 n)
{
	long v;

	bpf_usdt_arg(ctx, n, &v);
	return v;
}

/* BPF_USDT(name, args...): a USDT program whose C arguments are the probe's arguments */
#define ___pb_usdt_args_0() ctx
#define ___pb_usdt_args_1(a1) ___pb_usdt_args_0(), (void *)___pb_usdt_arg(ctx, 0)
#define ___pb_usdt_args_2(a1, a2) ___pb_usdt_args_1(a1), (void *)___pb_usdt_arg(ctx, 1)
#define ___pb_usdt_args_3(a1, a2, a3) ___pb_usdt_args_2(a1, a2), (void *)___pb_usdt_arg(ctx, 2)
#define ___pb_usdt_args_4(a1, a2, a3, a4) ___pb_usdt_args_3(a1, a2, a3), (void *)___pb_usdt_arg(ctx, 3)
#define ___pb_usdt_args_5(a1, a2, a3, a4, a5) ___pb_usdt_args_4(a1, a2, a3, a4), (void *)___pb_usdt_arg(ctx, 4)
#define ___pb_usdt_args_6(a1, a2, a3, a4, a5, a6) ___pb_usdt_args_5(a1, a2, a3, a4, a5), (void *)___pb_usdt_arg(ctx, 5)
#define ___pb_usdt_args_7(a1, a2, a3, a4, a5, a6, a7) \
	___pb_usdt_args_6(a1, a2, a3, a4, a5, a6), (void *)___pb_usdt_arg(ctx, 6)
#define ___pb_usdt_args_8(a1, a2, a3, a4, a5, a6, a7, a8) \
	___pb_usdt_args_7(a1, a2, a3, a4, a5, a6, a7), (void *)___pb_usdt_arg(ctx, 7)
#define ___pb_usdt_args_9(a1, a2, a3, a4, a5, a6, a7, a8, a9) \
	___pb_usdt_args_8(a1, a2, a3, a4, a5, a6, a7, a8), (void *)___pb_usdt_arg(ctx, 8)
#define ___pb_usdt_args_10(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) \
	___pb_usdt_args_9(a1, a2, a3, a4, a5, a6, a7, a8, a9), (void *)___pb_usdt_arg(ctx, 9)
#define ___pb_usdt_args_11(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) \
	___pb_usdt_args_10(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10), (void *)___pb_usdt_arg(ctx, 10)
#define ___pb_usdt_args_12(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) \
	___pb_usdt_args_11(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11), (void *)___pb_usdt_arg(ctx, 11)

#define BPF_USDT(name, ...)                                                        \
	name(struct pt_regs *ctx);                                                 \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__); \
	typeof(name(0)) name(struct pt_regs *ctx)                                  \
	{                                                                          \
		___pb_quiet_begin                                                   \
		return ____##name(___pb_cat(___pb_usdt_args_, ___pb_narg(__VA_ARGS__))(__VA_ARGS__)); \
		___pb_quiet_end                                                     \
	}                                                                          \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__)

#endif /* __PYBPF_USDT_BPF_H */
