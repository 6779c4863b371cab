/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf: the basics of a BPF C program -- section placement, map definitions in the
 * BTF-defined .maps convention, attributes, bpf_printk, and every helper of the running
 * kernel (declared in the generated <bpf/bpf_helper_defs.h>).
 *
 * Include vmlinux.h (or <linux/bpf.h>) first when you use it, as usual.
 */
#ifndef __PYBPF_BPF_HELPERS_H
#define __PYBPF_BPF_HELPERS_H

#include <bpf/pybpf_types.h>
#include <bpf/pybpf_macros.h>
#include <bpf/pybpf_uapi.h>
#include <bpf/bpf_helper_defs.h>

/* ---- placement and attributes ------------------------------------------------------ */

/* put a program, map or variable in ELF section NAME (the loader reads the program type
 * from it: SEC("xdp"), SEC("kprobe/do_sys_open"), SEC(".maps"), SEC("license")) */
#define SEC(NAME) __attribute__((section(NAME), used))

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
#ifndef __hidden
#define __hidden __attribute__((visibility("hidden")))
#endif

/* externs resolved by the loader: kernel symbols (BTF ids / addresses) and CONFIG_ values */
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))

/* BTF type and declaration tags the verifier understands */
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))
#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))
#define __arg_nonnull __attribute__((btf_decl_tag("arg:nonnull")))
#define __arg_nullable __attribute__((btf_decl_tag("arg:nullable")))
#define __arg_trusted __attribute__((btf_decl_tag("arg:trusted")))
#define __arg_arena __attribute__((btf_decl_tag("arg:arena")))

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* compiler barriers: nothing is moved across barrier(); barrier_var(v) makes the compiler
 * forget what it knows about v (so a bounds check on v is kept where it is written) */
#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif
#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif

#ifndef __bpf_unreachable
#define __bpf_unreachable() __builtin_trap()
#endif

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef container_of
#define container_of(ptr, type, member)                                            \
	({                                                                         \
		void *___pb_mptr = (void *)(ptr);                                   \
		((type *)(___pb_mptr - offsetof(type, member)));                    \
	})
#endif

#ifndef KERNEL_VERSION
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#endif

/* ---- BTF-defined maps ---------------------------------------------------------------
 * struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, u32); __type(value, u64);
 *          __uint(max_entries, 1024); } counts SEC(".maps");
 * Each field is encoded in the BTF of the anonymous struct: an integer as the element
 * count of an array a pointer points to, a type as the pointee type.
 */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
/* a 64-bit value, as the value of an enumerator (BTF enum64) */
#define __ulong(name, val) enum { ___pb_cat(___pb_ulong_, __COUNTER__) = val } name

/* values of the "pinning" field */
enum libbpf_pin_type {
	LIBBPF_PIN_NONE = 0,
	LIBBPF_PIN_BY_NAME = 1, /* pin under /sys/fs/bpf/<map name> */
};

/* values of a tristate CONFIG_ extern (extern enum libbpf_tristate CONFIG_X __kconfig;) */
enum libbpf_tristate {
	TRI_NO = 0,
	TRI_YES = 1,
	TRI_MODULE = 2,
};

/* ---- tail calls ------------------------------------------------------------------------ */

/* a tail call with a constant slot, emitted so the verifier can track the jump target */
static __always_inline void bpf_tail_call_static(void *ctx, const void *map, const __u32 slot)
{
	if (!__builtin_constant_p(slot))
		__bpf_unreachable();
	asm volatile("r1 = %[ctx]\n\t"
		     "r2 = %[map]\n\t"
		     "r3 = %[slot]\n\t"
		     "call 12"
		     :: [ctx] "r"(ctx), [map] "r"(map), [slot] "i"(slot)
		     : "r0", "r1", "r2", "r3", "r4", "r5");
}

/* ---- printing ---------------------------------------------------------------------------
 * bpf_printk(fmt, args...) writes to the trace pipe (/sys/kernel/tracing/trace_pipe).
 * Up to 3 arguments use bpf_trace_printk(); 4 to 12 use bpf_trace_vprintk() (Linux 5.16).
 */

/* store each argument as a u64 into consecutive slots of array a */
#define ___pb_fill_0(a)
#define ___pb_fill_1(a, x) (a)[0] = (unsigned long long)(x)
#define ___pb_fill_2(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_1(&(a)[1], __VA_ARGS__)
#define ___pb_fill_3(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_2(&(a)[1], __VA_ARGS__)
#define ___pb_fill_4(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_3(&(a)[1], __VA_ARGS__)
#define ___pb_fill_5(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_4(&(a)[1], __VA_ARGS__)
#define ___pb_fill_6(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_5(&(a)[1], __VA_ARGS__)
#define ___pb_fill_7(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_6(&(a)[1], __VA_ARGS__)
#define ___pb_fill_8(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_7(&(a)[1], __VA_ARGS__)
#define ___pb_fill_9(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_8(&(a)[1], __VA_ARGS__)
#define ___pb_fill_10(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_9(&(a)[1], __VA_ARGS__)
#define ___pb_fill_11(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_10(&(a)[1], __VA_ARGS__)
#define ___pb_fill_12(a, x, ...) (a)[0] = (unsigned long long)(x); ___pb_fill_11(&(a)[1], __VA_ARGS__)
#define ___pb_fill(a, ...) ___pb_cat(___pb_fill_, ___pb_narg(__VA_ARGS__))(a, ##__VA_ARGS__)

/* the format string lives in .rodata, as the verifier requires */
#define ___pb_printk_P(fmt, ...)                                                   \
	({                                                                         \
		static const char ___pb_fmt[] = fmt;                                \
		bpf_trace_printk(___pb_fmt, sizeof(___pb_fmt), ##__VA_ARGS__);      \
	})
#define ___pb_printk_V(fmt, ...)                                                   \
	({                                                                         \
		static const char ___pb_fmt[] = fmt;                                \
		unsigned long long ___pb_args[___pb_narg(__VA_ARGS__)];             \
		___pb_fill(___pb_args, __VA_ARGS__);                                \
		bpf_trace_vprintk(___pb_fmt, sizeof(___pb_fmt), ___pb_args,         \
				  sizeof(___pb_args));                              \
	})
/* P (bpf_trace_printk) for 0..3 arguments, V (bpf_trace_vprintk) for 4..12 */
#define ___pb_printk_kind(...) ___pb_14th(_, ##__VA_ARGS__, V, V, V, V, V, V, V, V, V, P, P, P, P)
#define bpf_printk(fmt, ...) ___pb_cat(___pb_printk_, ___pb_printk_kind(__VA_ARGS__))(fmt, ##__VA_ARGS__)

/* BPF_SNPRINTF(out, out_size, fmt, args...): bpf_snprintf() with arguments packed as u64 */
#define BPF_SNPRINTF(out, out_size, fmt, ...)                                      \
	({                                                                         \
		static const char ___pb_fmt[] = fmt;                                \
		unsigned long long ___pb_args[___pb_narg(__VA_ARGS__) + 1];         \
		___pb_fill(___pb_args, ##__VA_ARGS__);                              \
		bpf_snprintf(out, out_size, ___pb_fmt, ___pb_args,                  \
			     ___pb_narg(__VA_ARGS__) * sizeof(unsigned long long)); \
	})

/* BPF_SEQ_PRINTF(seq, fmt, args...): bpf_seq_printf() for iterator programs */
#define BPF_SEQ_PRINTF(seq, fmt, ...)                                              \
	({                                                                         \
		static const char ___pb_fmt[] = fmt;                                \
		unsigned long long ___pb_args[___pb_narg(__VA_ARGS__) + 1];         \
		___pb_fill(___pb_args, ##__VA_ARGS__);                              \
		bpf_seq_printf(seq, ___pb_fmt, sizeof(___pb_fmt), ___pb_args,       \
			       ___pb_narg(__VA_ARGS__) * sizeof(unsigned long long)); \
	})

#endif /* __PYBPF_BPF_HELPERS_H */
