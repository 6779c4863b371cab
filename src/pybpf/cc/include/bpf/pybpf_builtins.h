/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf: force-included (-include) when compiling with the ziglang wheel. Its freestanding
 * target compiles with -fno-builtin, which would turn memset()/memcpy()/memmove() into
 * calls to external functions that a BPF program cannot make. A clang with the bpf target
 * (hosted) treats them as builtins; so does this, by routing them to the __builtin_ forms,
 * which the BPF backend expands inline (constant sizes).
 */
#ifndef __PYBPF_BUILTINS_H
#define __PYBPF_BUILTINS_H

static inline __attribute__((always_inline)) void *memset(void *dst, int c, unsigned long n)
{
	return __builtin_memset(dst, c, n);
}

static inline __attribute__((always_inline)) void *memcpy(void *dst, const void *src, unsigned long n)
{
	return __builtin_memcpy(dst, src, n);
}

static inline __attribute__((always_inline)) void *memmove(void *dst, const void *src, unsigned long n)
{
	return __builtin_memmove(dst, src, n);
}

#endif /* __PYBPF_BUILTINS_H */
