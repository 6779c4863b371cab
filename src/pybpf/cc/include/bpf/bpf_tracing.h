/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf: reading a probed function's registers (PT_REGS_*) and declaring programs by their
 * typed arguments (BPF_PROG, BPF_KPROBE, BPF_KRETPROBE, BPF_UPROBE, BPF_URETPROBE,
 * BPF_KSYSCALL). The architecture is chosen by -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64
 * (pybpf.cc.compile passes the host's).
 *
 * Register facts:
 *   x86_64: struct pt_regs is r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip
 *           cs flags sp ss (8 bytes each). Function arguments: di si dx cx r8 r9, then the
 *           stack (arg 7 at sp+8 on entry, above the return address); return value: ax.
 *           System calls pass arguments in di si dx r10 r8 r9.
 *   arm64:  struct pt_regs starts with regs[31] sp pc pstate (struct user_pt_regs), then
 *           orig_x0. Arguments: x0..x7; return value: x0; frame pointer x29, link x30.
 *           System calls pass x0..x5, but x0 is overwritten by the return value, so the
 *           first argument is read from orig_x0.
 *   Both have syscall wrappers (Linux 4.17 / 4.19 on): the kprobe on __x64_sys_NAME /
 *   __arm64_sys_NAME sees one argument, a pointer to the user's struct pt_regs.
 */
#ifndef __PYBPF_BPF_TRACING_H
#define __PYBPF_BPF_TRACING_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct pt_regs;

#if defined(__TARGET_ARCH_x86)

/* the exact layout, for direct reads of a kprobe/uprobe context */
struct ___pb_regs_x86 {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
/* a CO-RE flavor: relocated by field name against the kernel's struct pt_regs */
struct pt_regs___pb_x86 {
	unsigned long bp, r10, r9, r8, ax, cx, dx, si, di, ip, sp;
} __attribute__((preserve_access_index));

#define ___pb_regs(x) ((const struct ___pb_regs_x86 *)(x))
#define ___pb_core_regs(x) ((struct pt_regs___pb_x86 *)(x))
#define ___pb_sys_regs(x) ___pb_regs(x)
#define ___pb_core_sys_regs(x) ___pb_core_regs(x)

#define ___PB_PARM1 di
#define ___PB_PARM2 si
#define ___PB_PARM3 dx
#define ___PB_PARM4 cx
#define ___PB_PARM5 r8
#define ___PB_PARM6 r9
#define ___PB_SYS_PARM1 di
#define ___PB_SYS_PARM2 si
#define ___PB_SYS_PARM3 dx
#define ___PB_SYS_PARM4 r10
#define ___PB_SYS_PARM5 r8
#define ___PB_SYS_PARM6 r9
#define ___PB_RC ax
#define ___PB_FP bp
#define ___PB_SP sp
#define ___PB_IP ip

/* arguments 7 and 8 are on the stack: read with bpf_probe_read_kernel() (function entry only) */
#define ___pb_stack_arg(sp, n)                                                     \
	({                                                                         \
		unsigned long ___pb_v = 0;                                          \
		bpf_probe_read_kernel(&___pb_v, sizeof(___pb_v),                    \
				      (const void *)((sp) + (n) * sizeof(unsigned long))); \
		___pb_v;                                                            \
	})
#define PT_REGS_PARM7(x) ___pb_stack_arg(PT_REGS_SP(x), 1)
#define PT_REGS_PARM8(x) ___pb_stack_arg(PT_REGS_SP(x), 2)
#define PT_REGS_PARM7_CORE(x) ___pb_stack_arg(PT_REGS_SP_CORE(x), 1)
#define PT_REGS_PARM8_CORE(x) ___pb_stack_arg(PT_REGS_SP_CORE(x), 2)

#elif defined(__TARGET_ARCH_arm64)

struct ___pb_regs_arm64 {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
	__u64 pstate;
	__u64 orig_x0;
};
/* CO-RE flavors of the kernel's struct user_pt_regs (the head of struct pt_regs) and of
 * struct pt_regs itself (for orig_x0) */
struct user_pt_regs___pb_arm64 {
	__u64 regs[31];
	__u64 sp;
	__u64 pc;
} __attribute__((preserve_access_index));
struct pt_regs___pb_arm64 {
	__u64 orig_x0;
} __attribute__((preserve_access_index));

#define ___pb_regs(x) ((const struct ___pb_regs_arm64 *)(x))
#define ___pb_core_regs(x) ((struct user_pt_regs___pb_arm64 *)(x))
#define ___pb_sys_regs(x) ___pb_regs(x)
#define ___pb_core_sys_regs(x) ___pb_core_regs(x)

#define ___PB_PARM1 regs[0]
#define ___PB_PARM2 regs[1]
#define ___PB_PARM3 regs[2]
#define ___PB_PARM4 regs[3]
#define ___PB_PARM5 regs[4]
#define ___PB_PARM6 regs[5]
#define ___PB_PARM7 regs[6]
#define ___PB_PARM8 regs[7]
#define ___PB_SYS_PARM2 regs[1]
#define ___PB_SYS_PARM3 regs[2]
#define ___PB_SYS_PARM4 regs[3]
#define ___PB_SYS_PARM5 regs[4]
#define ___PB_SYS_PARM6 regs[5]
#define ___PB_RC regs[0]
#define ___PB_FP regs[29]
#define ___PB_LR regs[30]
#define ___PB_SP sp
#define ___PB_IP pc

#define PT_REGS_PARM7(x) (___pb_regs(x)->___PB_PARM7)
#define PT_REGS_PARM8(x) (___pb_regs(x)->___PB_PARM8)
#define PT_REGS_PARM7_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_PARM7)
#define PT_REGS_PARM8_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_PARM8)
#define PT_REGS_LR(x) (___pb_regs(x)->___PB_LR)
#define PT_REGS_LR_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_LR)

/* the first system call argument survives only in orig_x0 */
#define PT_REGS_PARM1_SYSCALL(x) (___pb_regs(x)->orig_x0)
#define PT_REGS_PARM1_CORE_SYSCALL(x) BPF_CORE_READ((struct pt_regs___pb_arm64 *)(x), orig_x0)

#else
#error "pybpf's bpf_tracing.h needs -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

/* ---- register access ------------------------------------------------------------------ */
#define PT_REGS_PARM1(x) (___pb_regs(x)->___PB_PARM1)
#define PT_REGS_PARM2(x) (___pb_regs(x)->___PB_PARM2)
#define PT_REGS_PARM3(x) (___pb_regs(x)->___PB_PARM3)
#define PT_REGS_PARM4(x) (___pb_regs(x)->___PB_PARM4)
#define PT_REGS_PARM5(x) (___pb_regs(x)->___PB_PARM5)
#define PT_REGS_PARM6(x) (___pb_regs(x)->___PB_PARM6)
#define PT_REGS_RC(x) (___pb_regs(x)->___PB_RC)
#define PT_REGS_FP(x) (___pb_regs(x)->___PB_FP)
#define PT_REGS_SP(x) (___pb_regs(x)->___PB_SP)
#define PT_REGS_IP(x) (___pb_regs(x)->___PB_IP)
#define PT_REGS_RET(x) PT_REGS_RC(x)

#define PT_REGS_PARM1_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_PARM1)
#define PT_REGS_PARM2_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_PARM2)
#define PT_REGS_PARM3_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_PARM3)
#define PT_REGS_PARM4_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_PARM4)
#define PT_REGS_PARM5_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_PARM5)
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_PARM6)
#define PT_REGS_RC_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_RC)
#define PT_REGS_FP_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_FP)
#define PT_REGS_SP_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_SP)
#define PT_REGS_IP_CORE(x) BPF_CORE_READ(___pb_core_regs(x), ___PB_IP)

/* system call arguments, from the pt_regs the syscall wrapper received */
#define PT_REGS_SYSCALL_REGS(ctx) ((struct pt_regs *)PT_REGS_PARM1(ctx))
#ifndef PT_REGS_PARM1_SYSCALL
#define PT_REGS_PARM1_SYSCALL(x) (___pb_sys_regs(x)->___PB_SYS_PARM1)
#define PT_REGS_PARM1_CORE_SYSCALL(x) BPF_CORE_READ(___pb_core_sys_regs(x), ___PB_SYS_PARM1)
#endif
#define PT_REGS_PARM2_SYSCALL(x) (___pb_sys_regs(x)->___PB_SYS_PARM2)
#define PT_REGS_PARM3_SYSCALL(x) (___pb_sys_regs(x)->___PB_SYS_PARM3)
#define PT_REGS_PARM4_SYSCALL(x) (___pb_sys_regs(x)->___PB_SYS_PARM4)
#define PT_REGS_PARM5_SYSCALL(x) (___pb_sys_regs(x)->___PB_SYS_PARM5)
#define PT_REGS_PARM6_SYSCALL(x) (___pb_sys_regs(x)->___PB_SYS_PARM6)
#define PT_REGS_PARM2_CORE_SYSCALL(x) BPF_CORE_READ(___pb_core_sys_regs(x), ___PB_SYS_PARM2)
#define PT_REGS_PARM3_CORE_SYSCALL(x) BPF_CORE_READ(___pb_core_sys_regs(x), ___PB_SYS_PARM3)
#define PT_REGS_PARM4_CORE_SYSCALL(x) BPF_CORE_READ(___pb_core_sys_regs(x), ___PB_SYS_PARM4)
#define PT_REGS_PARM5_CORE_SYSCALL(x) BPF_CORE_READ(___pb_core_sys_regs(x), ___PB_SYS_PARM5)
#define PT_REGS_PARM6_CORE_SYSCALL(x) BPF_CORE_READ(___pb_core_sys_regs(x), ___PB_SYS_PARM6)

/* ---- typed program declarations -------------------------------------------------------
 * SEC("kprobe/do_unlinkat") int BPF_KPROBE(on_unlink, int dfd, struct filename *name) {...}
 * declares `int on_unlink(struct pt_regs *ctx)` (what the loader sees) and an inlined body
 * that receives the unpacked arguments (and `ctx`). The leading return type binds to the
 * first declaration; typeof(name(0)) repeats it for the others. Arguments are passed as
 * (void *) casts, so -Wint-conversion is silenced around the call.
 */
#define ___pb_quiet_begin _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wint-conversion\"")
#define ___pb_quiet_end _Pragma("GCC diagnostic pop")

/* BPF_PROG: argument i of a BTF-typed program is the u64 ctx[i - 1] */
#define ___pb_prog_args_0() ctx
#define ___pb_prog_args_1(a1) ctx, (void *)ctx[0]
#define ___pb_prog_args_2(a1, a2) ctx, (void *)ctx[0], (void *)ctx[1]
#define ___pb_prog_args_3(a1, a2, a3) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2]
#define ___pb_prog_args_4(a1, a2, a3, a4) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3]
#define ___pb_prog_args_5(a1, a2, a3, a4, a5) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3], (void *)ctx[4]
#define ___pb_prog_args_6(a1, a2, a3, a4, a5, a6) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3], (void *)ctx[4], (void *)ctx[5]
#define ___pb_prog_args_7(a1, a2, a3, a4, a5, a6, a7) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3], (void *)ctx[4], (void *)ctx[5], (void *)ctx[6]
#define ___pb_prog_args_8(a1, a2, a3, a4, a5, a6, a7, a8) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3], (void *)ctx[4], (void *)ctx[5], (void *)ctx[6], (void *)ctx[7]
#define ___pb_prog_args_9(a1, a2, a3, a4, a5, a6, a7, a8, a9) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3], (void *)ctx[4], (void *)ctx[5], (void *)ctx[6], (void *)ctx[7], (void *)ctx[8]
#define ___pb_prog_args_10(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3], (void *)ctx[4], (void *)ctx[5], (void *)ctx[6], (void *)ctx[7], (void *)ctx[8], (void *)ctx[9]
#define ___pb_prog_args_11(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3], (void *)ctx[4], (void *)ctx[5], (void *)ctx[6], (void *)ctx[7], (void *)ctx[8], (void *)ctx[9], (void *)ctx[10]
#define ___pb_prog_args_12(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) ctx, (void *)ctx[0], (void *)ctx[1], (void *)ctx[2], (void *)ctx[3], (void *)ctx[4], (void *)ctx[5], (void *)ctx[6], (void *)ctx[7], (void *)ctx[8], (void *)ctx[9], (void *)ctx[10], (void *)ctx[11]
/* BPF_KPROBE / BPF_UPROBE: argument i of the probed function */
#define ___pb_kprobe_args_0() ctx
#define ___pb_kprobe_args_1(a1) ctx, (void *)PT_REGS_PARM1(ctx)
#define ___pb_kprobe_args_2(a1, a2) ctx, (void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx)
#define ___pb_kprobe_args_3(a1, a2, a3) ctx, (void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), (void *)PT_REGS_PARM3(ctx)
#define ___pb_kprobe_args_4(a1, a2, a3, a4) ctx, (void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), (void *)PT_REGS_PARM3(ctx), (void *)PT_REGS_PARM4(ctx)
#define ___pb_kprobe_args_5(a1, a2, a3, a4, a5) ctx, (void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), (void *)PT_REGS_PARM3(ctx), (void *)PT_REGS_PARM4(ctx), (void *)PT_REGS_PARM5(ctx)
#define ___pb_kprobe_args_6(a1, a2, a3, a4, a5, a6) ctx, (void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), (void *)PT_REGS_PARM3(ctx), (void *)PT_REGS_PARM4(ctx), (void *)PT_REGS_PARM5(ctx), (void *)PT_REGS_PARM6(ctx)
#define ___pb_kprobe_args_7(a1, a2, a3, a4, a5, a6, a7) ctx, (void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), (void *)PT_REGS_PARM3(ctx), (void *)PT_REGS_PARM4(ctx), (void *)PT_REGS_PARM5(ctx), (void *)PT_REGS_PARM6(ctx), (void *)PT_REGS_PARM7(ctx)
#define ___pb_kprobe_args_8(a1, a2, a3, a4, a5, a6, a7, a8) ctx, (void *)PT_REGS_PARM1(ctx), (void *)PT_REGS_PARM2(ctx), (void *)PT_REGS_PARM3(ctx), (void *)PT_REGS_PARM4(ctx), (void *)PT_REGS_PARM5(ctx), (void *)PT_REGS_PARM6(ctx), (void *)PT_REGS_PARM7(ctx), (void *)PT_REGS_PARM8(ctx)
/* BPF_KSYSCALL: argument i of the system call, from the wrapper's inner pt_regs */
#define ___pb_syscall_args_0() ctx
#define ___pb_syscall_args_1(a1) ctx, (void *)PT_REGS_PARM1_CORE_SYSCALL(___pb_sregs)
#define ___pb_syscall_args_2(a1, a2) ctx, (void *)PT_REGS_PARM1_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM2_CORE_SYSCALL(___pb_sregs)
#define ___pb_syscall_args_3(a1, a2, a3) ctx, (void *)PT_REGS_PARM1_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM2_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM3_CORE_SYSCALL(___pb_sregs)
#define ___pb_syscall_args_4(a1, a2, a3, a4) ctx, (void *)PT_REGS_PARM1_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM2_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM3_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM4_CORE_SYSCALL(___pb_sregs)
#define ___pb_syscall_args_5(a1, a2, a3, a4, a5) ctx, (void *)PT_REGS_PARM1_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM2_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM3_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM4_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM5_CORE_SYSCALL(___pb_sregs)
#define ___pb_syscall_args_6(a1, a2, a3, a4, a5, a6) ctx, (void *)PT_REGS_PARM1_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM2_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM3_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM4_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM5_CORE_SYSCALL(___pb_sregs), (void *)PT_REGS_PARM6_CORE_SYSCALL(___pb_sregs)

/* BPF_PROG(name, args...): fentry/fexit/fmod_ret, tp_btf, lsm, raw_tp, struct_ops, iter */
#define BPF_PROG(name, ...)                                                        \
	name(unsigned long long *ctx);                                             \
	static __always_inline typeof(name(0)) ____##name(unsigned long long *ctx, ##__VA_ARGS__); \
	typeof(name(0)) name(unsigned long long *ctx)                              \
	{                                                                          \
		___pb_quiet_begin                                                   \
		return ____##name(___pb_cat(___pb_prog_args_, ___pb_narg(__VA_ARGS__))(__VA_ARGS__)); \
		___pb_quiet_end                                                     \
	}                                                                          \
	static __always_inline typeof(name(0)) ____##name(unsigned long long *ctx, ##__VA_ARGS__)

/* BPF_KPROBE(name, args...): kprobes (and uprobes): arguments from the registers */
#define BPF_KPROBE(name, ...)                                                      \
	name(struct pt_regs *ctx);                                                 \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__); \
	typeof(name(0)) name(struct pt_regs *ctx)                                  \
	{                                                                          \
		___pb_quiet_begin                                                   \
		return ____##name(___pb_cat(___pb_kprobe_args_, ___pb_narg(__VA_ARGS__))(__VA_ARGS__)); \
		___pb_quiet_end                                                     \
	}                                                                          \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__)

/* BPF_KRETPROBE(name[, ret]): kretprobes (and uretprobes): the return value */
#define ___pb_kret_args_0() ctx
#define ___pb_kret_args_1(a1) ctx, (void *)PT_REGS_RC(ctx)
#define BPF_KRETPROBE(name, ...)                                                   \
	name(struct pt_regs *ctx);                                                 \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__); \
	typeof(name(0)) name(struct pt_regs *ctx)                                  \
	{                                                                          \
		___pb_quiet_begin                                                   \
		return ____##name(___pb_cat(___pb_kret_args_, ___pb_narg(__VA_ARGS__))(__VA_ARGS__)); \
		___pb_quiet_end                                                     \
	}                                                                          \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__)

#define BPF_UPROBE(name, ...) BPF_KPROBE(name, ##__VA_ARGS__)
#define BPF_URETPROBE(name, ...) BPF_KRETPROBE(name, ##__VA_ARGS__)

/* BPF_KSYSCALL(name, args...): SEC("ksyscall/NAME") programs: the system call's own
 * arguments, read (with CO-RE) from the pt_regs its wrapper received */
#define BPF_KSYSCALL(name, ...)                                                    \
	name(struct pt_regs *ctx);                                                 \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__); \
	typeof(name(0)) name(struct pt_regs *ctx)                                  \
	{                                                                          \
		struct pt_regs *___pb_sregs = PT_REGS_SYSCALL_REGS(ctx);            \
		(void)___pb_sregs;                                                  \
		___pb_quiet_begin                                                   \
		return ____##name(___pb_cat(___pb_syscall_args_, ___pb_narg(__VA_ARGS__))(__VA_ARGS__)); \
		___pb_quiet_end                                                     \
	}                                                                          \
	static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__)

#define BPF_KPROBE_SYSCALL BPF_KSYSCALL

#endif /* __PYBPF_BPF_TRACING_H */
