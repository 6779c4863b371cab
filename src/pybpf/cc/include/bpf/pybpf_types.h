/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf: the fixed-width integer types of the Linux UAPI (asm-generic/int-ll64.h: 64-bit
 * types are long long on every architecture). Repeating a typedef with the same type is
 * valid C11, so this may be included before or after vmlinux.h or <linux/types.h>.
 */
#ifndef __PYBPF_TYPES_H
#define __PYBPF_TYPES_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;

typedef __u16 __le16;
typedef __u16 __be16;
typedef __u32 __le32;
typedef __u32 __be32;
typedef __u64 __le64;
typedef __u64 __be64;
typedef __u16 __sum16;
typedef __u32 __wsum;

#ifndef NULL
#define NULL ((void *)0)
#endif

#endif /* __PYBPF_TYPES_H */
