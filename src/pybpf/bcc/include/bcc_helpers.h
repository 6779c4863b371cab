/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf's bcc compatibility header: what a bcc program expects to find without kernel
 * headers. The kernel's types come from the generated vmlinux.h; the macros and constants
 * that kernel headers define with #define (which BTF does not carry) are defined here.
 * The rewriter (pybpf.bcc.dialect) turns map method calls into the __bcc_map_* macros below.
 */
#ifndef __PYBPF_BCC_HELPERS_H
#define __PYBPF_BCC_HELPERS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define __BCC__ 1

/* ---- stack trace map values ---------------------------------------------------------- */
#ifndef BPF_MAX_STACK_DEPTH
#define BPF_MAX_STACK_DEPTH 127
#endif
struct bpf_stacktrace {
	u64 ip[BPF_MAX_STACK_DEPTH];
};
struct bpf_stacktrace_buildid {
	struct bpf_stack_build_id trace[BPF_MAX_STACK_DEPTH];
};

/* ---- map methods (the rewriter emits these) ------------------------------------------ */
#define __bcc_map_lookup(_m, _k) ((__typeof__((_m).value))bpf_map_lookup_elem((void *)&(_m), (_k)))
#define __bcc_map_lookup_or_try_init(_m, _k, _init)                                  \
	({                                                                            \
		__typeof__((_m).value) ___bcc_v = __bcc_map_lookup(_m, _k);           \
		if (!___bcc_v) {                                                      \
			bpf_map_update_elem((void *)&(_m), (_k), (_init), BPF_NOEXIST); \
			___bcc_v = __bcc_map_lookup(_m, _k);                          \
		}                                                                     \
		___bcc_v;                                                             \
	})
#define __bcc_map_update(_m, _k, _v) bpf_map_update_elem((void *)&(_m), (_k), (_v), BPF_ANY)
#define __bcc_map_insert(_m, _k, _v) bpf_map_update_elem((void *)&(_m), (_k), (_v), BPF_NOEXIST)
#define __bcc_map_delete(_m, _k) bpf_map_delete_elem((void *)&(_m), (_k))
#define __bcc_map_increment(_m, _key, _amount)                                        \
	({                                                                            \
		__typeof__(*(_m).key) ___bcc_k = (_key);                              \
		__typeof__(*(_m).value) ___bcc_zero = 0;                              \
		__typeof__((_m).value) ___bcc_p = __bcc_map_lookup(_m, &___bcc_k);    \
		if (!___bcc_p) {                                                      \
			bpf_map_update_elem((void *)&(_m), &___bcc_k, &___bcc_zero, BPF_NOEXIST); \
			___bcc_p = __bcc_map_lookup(_m, &___bcc_k);                   \
		}                                                                     \
		if (___bcc_p)                                                         \
			__sync_fetch_and_add(___bcc_p, (_amount));                    \
	})
#define __bcc_map_perf_submit(_m, _ctx, _data, _size) \
	bpf_perf_event_output((_ctx), (void *)&(_m), BPF_F_CURRENT_CPU, (_data), (_size))
#define __bcc_map_perf_submit_skb(_m, _ctx, _skb_len, _data, _size)                      \
	bpf_perf_event_output((_ctx), (void *)&(_m),                                      \
			      BPF_F_CURRENT_CPU | (((unsigned long long)(_skb_len)) << 32), (_data), (_size))
#define __bcc_map_perf_read(_m, _idx) bpf_perf_event_read((void *)&(_m), (_idx))
#define __bcc_map_ringbuf_output(_m, _data, _size, _flags) bpf_ringbuf_output((void *)&(_m), (_data), (_size), (_flags))
#define __bcc_map_ringbuf_reserve(_m, _size) bpf_ringbuf_reserve((void *)&(_m), (_size), 0)
#define __bcc_map_ringbuf_submit(_m, _data, _flags) bpf_ringbuf_submit((_data), (_flags))
#define __bcc_map_ringbuf_discard(_m, _data, _flags) bpf_ringbuf_discard((_data), (_flags))
#define __bcc_map_get_stackid(_m, _ctx, _flags) bpf_get_stackid((_ctx), (void *)&(_m), (_flags))
#define __bcc_map_call(_m, _ctx, _idx) bpf_tail_call((_ctx), (void *)&(_m), (_idx))
#define __bcc_map_push(_m, _v, _flags) bpf_map_push_elem((void *)&(_m), (_v), (_flags))
#define __bcc_map_pop(_m, _v) bpf_map_pop_elem((void *)&(_m), (_v))
#define __bcc_map_peek(_m, _v) bpf_map_peek_elem((void *)&(_m), (_v))
#define __bcc_map_redirect_map(_m, _idx, _flags) bpf_redirect_map((void *)&(_m), (_idx), (_flags))
#define __bcc_map_sk_storage_get(_m, _sk, _v, _flags) bpf_sk_storage_get((void *)&(_m), (_sk), (_v), (_flags))
#define __bcc_map_sk_storage_delete(_m, _sk) bpf_sk_storage_delete((void *)&(_m), (_sk))
#define __bcc_map_task_storage_get(_m, _t, _v, _flags) bpf_task_storage_get((void *)&(_m), (_t), (_v), (_flags))
#define __bcc_map_task_storage_delete(_m, _t) bpf_task_storage_delete((void *)&(_m), (_t))
#define __bcc_map_inode_storage_get(_m, _i, _v, _flags) bpf_inode_storage_get((void *)&(_m), (_i), (_v), (_flags))
#define __bcc_map_inode_storage_delete(_m, _i) bpf_inode_storage_delete((void *)&(_m), (_i))

/* a fake struct pt_regs for kprobe -> tracepoint adapters: set argument n / the return value */
#define __bcc_set_parm(_regs, _n, _v) (*(unsigned long *)&PT_REGS_PARM##_n(_regs) = (unsigned long)(_v))
#define __bcc_set_rc(_regs, _v) (*(unsigned long *)&PT_REGS_RC(_regs) = (unsigned long)(_v))

/* ---- bcc's helper functions ----------------------------------------------------------- */
/* floor(log2(v)) of a 32-bit value (0 for 0) */
static __always_inline unsigned int bpf_log2(unsigned int v)
{
	unsigned int r = 0, s;
	s = (v > 0xFFFF) << 4; v >>= s; r |= s;
	s = (v > 0xFF) << 3; v >>= s; r |= s;
	s = (v > 0xF) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	return r | (v >> 1);
}
/* bcc's histogram slot of a 64-bit value: floor(log2(v)) + 1 (1 for 0 and 1) */
static __always_inline unsigned int bpf_log2l(unsigned long long v)
{
	unsigned int hi = v >> 32;
	return hi ? bpf_log2(hi) + 33 : bpf_log2((unsigned int)v) + 1;
}
#define lock_xadd(ptr, val) ((void)__sync_fetch_and_add(ptr, val))
#define bpf_num_cpus() 0

/* __data_loc fields of TRACEPOINT_PROBE args: low 16 bits offset, high 16 bits length */
#define TP_DATA_LOC_READ_CONST(dst, field, length)                                      \
	bpf_probe_read_kernel((void *)(dst), (length), (char *)args + (args->data_loc_##field & 0xFFFF))
#define TP_DATA_LOC_READ(dst, field)                                                    \
	bpf_probe_read_kernel((void *)(dst), (args->data_loc_##field >> 16),             \
			      (char *)args + (args->data_loc_##field & 0xFFFF))
#define TP_DATA_LOC_READ_STR(dst, field, length)                                        \
	bpf_probe_read_kernel_str((void *)(dst), (length), (char *)args + (args->data_loc_##field & 0xFFFF))

/* ---- constants kernel headers define with #define (not in BTF) -------------------------- */
#ifndef AF_UNSPEC
#define AF_UNSPEC 0
#define AF_UNIX 1
#define AF_LOCAL 1
#define AF_INET 2
#define AF_INET6 10
#define AF_NETLINK 16
#define AF_PACKET 17
#define PF_INET AF_INET
#define PF_INET6 AF_INET6
#endif
#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_IPV6 0x86DD
#define ETH_P_ALL 0x0003
#define PF_KTHREAD 0x00200000
#define TASK_RUNNING 0x00000000
#define TASK_INTERRUPTIBLE 0x00000001
#define TASK_UNINTERRUPTIBLE 0x00000002
#define __TASK_STOPPED 0x00000004
#define __TASK_TRACED 0x00000008
#define EXIT_DEAD 0x00000010
#define EXIT_ZOMBIE 0x00000020
#define TASK_DEAD 0x00000080
#define TASK_WAKEKILL 0x00000100
#define TASK_NOLOAD 0x00000400
#define TASK_KILLABLE (TASK_WAKEKILL | TASK_UNINTERRUPTIBLE)
#define TASK_IDLE (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)
#define DNAME_INLINE_LEN 40
#define DISK_NAME_LEN 32
#define BDEVNAME_SIZE 32
#define MINORBITS 20
#define MINORMASK ((1U << MINORBITS) - 1)
#define MAJOR(dev) ((unsigned int)((dev) >> MINORBITS))
#define MINOR(dev) ((unsigned int)((dev) & MINORMASK))
#define MKDEV(ma, mi) (((ma) << MINORBITS) | (mi))
#define REQ_OP_BITS 8
#define REQ_OP_MASK ((1 << REQ_OP_BITS) - 1)
#ifndef PAGE_SIZE
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#endif
#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_USEC 1000ULL
#define USEC_PER_SEC 1000000ULL
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFREG 0100000
#define S_IFBLK 0060000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_ISREG(m) (((m) & S_IFMT) == S_IFREG)
#define S_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define S_ISSOCK(m) (((m) & S_IFMT) == S_IFSOCK)
#define O_ACCMODE 00000003
#define O_RDONLY 00000000
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define O_APPEND 00002000
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EINVAL 22
#define ENOSPC 28
#define ENOSYS 38
#define ECONNREFUSED 111
#define ETIMEDOUT 110
#ifndef ntohs
#define ntohs(x) bpf_ntohs(x)
#define htons(x) bpf_htons(x)
#define ntohl(x) bpf_ntohl(x)
#define htonl(x) bpf_htonl(x)
#endif
#ifndef NULL
#define NULL ((void *)0)
#endif
#ifndef __user
#define __user
#endif
#ifndef __kernel
#define __kernel
#endif
#ifndef __force
#define __force
#endif
#ifndef __rcu
#define __rcu
#endif

#endif /* __PYBPF_BCC_HELPERS_H */
