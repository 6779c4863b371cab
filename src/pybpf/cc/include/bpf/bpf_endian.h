/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf: byte order conversions between the CPU (little-endian eBPF) and the network
 * (big-endian). bpf_htons() & co. fold to a constant when their argument is one, and
 * compile to a single bswap instruction otherwise; the __bpf_constant_* forms are usable
 * in constant expressions (case labels, static initialisers).
 */
#ifndef __PYBPF_BPF_ENDIAN_H
#define __PYBPF_BPF_ENDIAN_H

#include <bpf/pybpf_types.h>

#define ___pb_swab16(x) ((__u16)((((__u16)(x) & 0x00ffU) << 8) | (((__u16)(x) & 0xff00U) >> 8)))
#define ___pb_swab32(x)                                                            \
	((__u32)((((__u32)(x) & 0x000000ffUL) << 24) | (((__u32)(x) & 0x0000ff00UL) << 8) | \
		 (((__u32)(x) & 0x00ff0000UL) >> 8) | (((__u32)(x) & 0xff000000UL) >> 24)))
#define ___pb_swab64(x)                                                            \
	((__u64)((((__u64)(x) & 0x00000000000000ffULL) << 56) |                    \
		 (((__u64)(x) & 0x000000000000ff00ULL) << 40) |                    \
		 (((__u64)(x) & 0x0000000000ff0000ULL) << 24) |                    \
		 (((__u64)(x) & 0x00000000ff000000ULL) << 8) |                     \
		 (((__u64)(x) & 0x000000ff00000000ULL) >> 8) |                     \
		 (((__u64)(x) & 0x0000ff0000000000ULL) >> 24) |                    \
		 (((__u64)(x) & 0x00ff000000000000ULL) >> 40) |                    \
		 (((__u64)(x) & 0xff00000000000000ULL) >> 56)))

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define __bpf_ntohs(x) __builtin_bswap16(x)
#define __bpf_htons(x) __builtin_bswap16(x)
#define __bpf_constant_ntohs(x) ___pb_swab16(x)
#define __bpf_constant_htons(x) ___pb_swab16(x)
#define __bpf_ntohl(x) __builtin_bswap32(x)
#define __bpf_htonl(x) __builtin_bswap32(x)
#define __bpf_constant_ntohl(x) ___pb_swab32(x)
#define __bpf_constant_htonl(x) ___pb_swab32(x)
#define __bpf_be64_to_cpu(x) __builtin_bswap64(x)
#define __bpf_cpu_to_be64(x) __builtin_bswap64(x)
#define __bpf_constant_be64_to_cpu(x) ___pb_swab64(x)
#define __bpf_constant_cpu_to_be64(x) ___pb_swab64(x)
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define __bpf_ntohs(x) (x)
#define __bpf_htons(x) (x)
#define __bpf_constant_ntohs(x) (x)
#define __bpf_constant_htons(x) (x)
#define __bpf_ntohl(x) (x)
#define __bpf_htonl(x) (x)
#define __bpf_constant_ntohl(x) (x)
#define __bpf_constant_htonl(x) (x)
#define __bpf_be64_to_cpu(x) (x)
#define __bpf_cpu_to_be64(x) (x)
#define __bpf_constant_be64_to_cpu(x) (x)
#define __bpf_constant_cpu_to_be64(x) (x)
#else
#error "unknown __BYTE_ORDER__"
#endif

#define bpf_htons(x) (__builtin_constant_p(x) ? __bpf_constant_htons(x) : __bpf_htons(x))
#define bpf_ntohs(x) (__builtin_constant_p(x) ? __bpf_constant_ntohs(x) : __bpf_ntohs(x))
#define bpf_htonl(x) (__builtin_constant_p(x) ? __bpf_constant_htonl(x) : __bpf_htonl(x))
#define bpf_ntohl(x) (__builtin_constant_p(x) ? __bpf_constant_ntohl(x) : __bpf_ntohl(x))
#define bpf_cpu_to_be64(x) \
	(__builtin_constant_p(x) ? __bpf_constant_cpu_to_be64(x) : __bpf_cpu_to_be64(x))
#define bpf_be64_to_cpu(x) \
	(__builtin_constant_p(x) ? __bpf_constant_be64_to_cpu(x) : __bpf_be64_to_cpu(x))

#endif /* __PYBPF_BPF_ENDIAN_H */
