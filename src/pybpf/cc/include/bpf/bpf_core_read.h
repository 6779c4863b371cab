/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf: CO-RE (compile once, run everywhere) reads. Field accesses are recorded by clang
 * as relocations in .BTF.ext (kinds of enum bpf_core_relo_kind) that the loader rewrites
 * for the running kernel's layout:
 *   __builtin_preserve_field_info(field, kind)  -> field byte offset/size/exists/signed/
 *                                                  lshift/rshift (relo kinds 0..5)
 *   __builtin_btf_type_id(type, kind)           -> local / target type id (6, 7)
 *   __builtin_preserve_type_info(type, kind)    -> type exists / size / matches (8, 9, 12)
 *   __builtin_preserve_enum_value(*(T *)V, kind) -> enumerator exists / value (10, 11)
 */
#ifndef __PYBPF_BPF_CORE_READ_H
#define __PYBPF_BPF_CORE_READ_H

#include <bpf/bpf_helpers.h>

/* second argument of __builtin_preserve_field_info() */
enum bpf_field_info_kind {
	BPF_FIELD_BYTE_OFFSET = 0,
	BPF_FIELD_BYTE_SIZE = 1,
	BPF_FIELD_EXISTS = 2,
	BPF_FIELD_SIGNED = 3,
	BPF_FIELD_LSHIFT_U64 = 4,
	BPF_FIELD_RSHIFT_U64 = 5,
};

/* second argument of __builtin_btf_type_id() */
enum bpf_type_id_kind {
	BPF_TYPE_ID_LOCAL = 0,
	BPF_TYPE_ID_TARGET = 1,
};

/* second argument of __builtin_preserve_type_info() */
enum bpf_type_info_kind {
	BPF_TYPE_EXISTS = 0,
	BPF_TYPE_SIZE = 1,
	BPF_TYPE_MATCHES = 2,
};

/* second argument of __builtin_preserve_enum_value() */
enum bpf_enum_value_kind {
	BPF_ENUMVAL_EXISTS = 0,
	BPF_ENUMVAL_VALUE = 1,
};

/* ---- bitfields ---------------------------------------------------------------------------
 * Load the bytes that hold the field into the low end of a u64 (little endian), shift the
 * field to the top, then shift it down, arithmetically when the field is signed.
 */
#define ___pb_bitfield_finish(s, field, val)                                       \
	({                                                                         \
		val <<= __builtin_preserve_field_info((s)->field, BPF_FIELD_LSHIFT_U64); \
		__builtin_preserve_field_info((s)->field, BPF_FIELD_SIGNED)         \
			? (unsigned long long)((long long)val >>                    \
				__builtin_preserve_field_info((s)->field, BPF_FIELD_RSHIFT_U64)) \
			: val >> __builtin_preserve_field_info((s)->field, BPF_FIELD_RSHIFT_U64); \
	})

/* a bitfield read with bpf_probe_read_kernel() (for pointers the verifier cannot follow) */
#define BPF_CORE_READ_BITFIELD_PROBED(s, field)                                    \
	({                                                                         \
		unsigned long long ___pb_val = 0;                                   \
		bpf_probe_read_kernel(&___pb_val,                                   \
			__builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_SIZE), \
			(const void *)(s) +                                         \
			__builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_OFFSET)); \
		___pb_bitfield_finish(s, field, ___pb_val);                         \
	})

/* a bitfield read by direct load (for BTF-typed pointers: tp_btf, fentry, iterators) */
#define BPF_CORE_READ_BITFIELD(s, field)                                           \
	({                                                                         \
		const void *___pb_p = (const void *)(s) +                           \
			__builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_OFFSET); \
		unsigned long long ___pb_val;                                       \
		asm volatile("" : "+r"(___pb_p));                                   \
		switch (__builtin_preserve_field_info((s)->field, BPF_FIELD_BYTE_SIZE)) { \
		case 1: ___pb_val = *(const unsigned char *)___pb_p; break;         \
		case 2: ___pb_val = *(const unsigned short *)___pb_p; break;        \
		case 4: ___pb_val = *(const unsigned int *)___pb_p; break;          \
		case 8: ___pb_val = *(const unsigned long long *)___pb_p; break;    \
		default: ___pb_val = 0; break;                                      \
		}                                                                   \
		___pb_bitfield_finish(s, field, ___pb_val);                         \
	})

/* ---- field, type and enum queries ----------------------------------------------------------
 * A field is named either as an expression (bpf_core_field_exists(p->f)) or as a type and
 * a field name (bpf_core_field_exists(struct task_struct, pid)).
 */
#define ___pb_field_ref_1(field) (field)
#define ___pb_field_ref_2(type, field) (((typeof(type) *)0)->field)
#define ___pb_field_ref(...) ___pb_dispatch(___pb_field_ref_, __VA_ARGS__)

#define bpf_core_field_exists(...) \
	__builtin_preserve_field_info(___pb_field_ref(__VA_ARGS__), BPF_FIELD_EXISTS)
#define bpf_core_field_size(...) \
	__builtin_preserve_field_info(___pb_field_ref(__VA_ARGS__), BPF_FIELD_BYTE_SIZE)
#define bpf_core_field_offset(...) \
	__builtin_preserve_field_info(___pb_field_ref(__VA_ARGS__), BPF_FIELD_BYTE_OFFSET)

#define bpf_core_type_id_local(type) \
	__builtin_btf_type_id(*(typeof(type) *)0, BPF_TYPE_ID_LOCAL)
#define bpf_core_type_id_kernel(type) \
	__builtin_btf_type_id(*(typeof(type) *)0, BPF_TYPE_ID_TARGET)
#define bpf_core_type_exists(type) \
	__builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_EXISTS)
#define bpf_core_type_matches(type) \
	__builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_MATCHES)
#define bpf_core_type_size(type) \
	__builtin_preserve_type_info(*(typeof(type) *)0, BPF_TYPE_SIZE)

#define bpf_core_enum_value_exists(enum_type, enum_value) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enum_value, BPF_ENUMVAL_EXISTS)
#define bpf_core_enum_value(enum_type, enum_value) \
	__builtin_preserve_enum_value(*(typeof(enum_type) *)enum_value, BPF_ENUMVAL_VALUE)

/* a read-only, verifier-tracked view of ptr as the kernel type `type` (kfunc, Linux 6.4) */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#define bpf_core_cast(ptr, type) \
	((typeof(type) *)bpf_rdonly_cast((ptr), bpf_core_type_id_kernel(type)))

/* ---- single reads ---------------------------------------------------------------------- */
#define bpf_core_read(dst, sz, src) \
	bpf_probe_read_kernel(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user(dst, sz, src) \
	bpf_probe_read_user(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_str(dst, sz, src) \
	bpf_probe_read_kernel_str(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user_str(dst, sz, src) \
	bpf_probe_read_user_str(dst, sz, (const void *)__builtin_preserve_access_index(src))

/* ---- pointer chains -------------------------------------------------------------------- */

/* the type of an expression without its qualifiers (the result of reading through a const
 * pointer is a plain copy) */
#if defined(__clang_major__) && __clang_major__ >= 19
#define ___pb_unqual(x) __typeof_unqual__(x)
#else
#define ___pb_unqual(x) typeof(x)
#endif
/* ___pb_rd_N(fn, fn_last, dst, src, f1..fN): follow src->f1->...->fN, reading each pointer
 * with fn into a temporary and the last field with fn_last into dst */
#define ___pb_rd_1(fn, fn_last, dst, src, a) \
	fn_last((void *)(dst), sizeof(*(dst)), &((src)->a))
#define ___pb_rd_2(fn, fn_last, dst, src, a, b) \
	const void *___pb_t; \
	fn((void *)&___pb_t, sizeof(___pb_t), &((src)->a)); \
	fn_last((void *)(dst), sizeof(*(dst)), &((typeof((src)->a))(___pb_t))->b)
#define ___pb_rd_3(fn, fn_last, dst, src, a, b, c) \
	const void *___pb_t; \
	fn((void *)&___pb_t, sizeof(___pb_t), &((src)->a)); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a))(___pb_t))->b); \
	fn_last((void *)(dst), sizeof(*(dst)), &((typeof((src)->a->b))(___pb_t))->c)
#define ___pb_rd_4(fn, fn_last, dst, src, a, b, c, d) \
	const void *___pb_t; \
	fn((void *)&___pb_t, sizeof(___pb_t), &((src)->a)); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a))(___pb_t))->b); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b))(___pb_t))->c); \
	fn_last((void *)(dst), sizeof(*(dst)), &((typeof((src)->a->b->c))(___pb_t))->d)
#define ___pb_rd_5(fn, fn_last, dst, src, a, b, c, d, e) \
	const void *___pb_t; \
	fn((void *)&___pb_t, sizeof(___pb_t), &((src)->a)); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a))(___pb_t))->b); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b))(___pb_t))->c); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c))(___pb_t))->d); \
	fn_last((void *)(dst), sizeof(*(dst)), &((typeof((src)->a->b->c->d))(___pb_t))->e)
#define ___pb_rd_6(fn, fn_last, dst, src, a, b, c, d, e, f) \
	const void *___pb_t; \
	fn((void *)&___pb_t, sizeof(___pb_t), &((src)->a)); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a))(___pb_t))->b); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b))(___pb_t))->c); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c))(___pb_t))->d); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d))(___pb_t))->e); \
	fn_last((void *)(dst), sizeof(*(dst)), &((typeof((src)->a->b->c->d->e))(___pb_t))->f)
#define ___pb_rd_7(fn, fn_last, dst, src, a, b, c, d, e, f, g) \
	const void *___pb_t; \
	fn((void *)&___pb_t, sizeof(___pb_t), &((src)->a)); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a))(___pb_t))->b); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b))(___pb_t))->c); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c))(___pb_t))->d); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d))(___pb_t))->e); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d->e))(___pb_t))->f); \
	fn_last((void *)(dst), sizeof(*(dst)), &((typeof((src)->a->b->c->d->e->f))(___pb_t))->g)
#define ___pb_rd_8(fn, fn_last, dst, src, a, b, c, d, e, f, g, h) \
	const void *___pb_t; \
	fn((void *)&___pb_t, sizeof(___pb_t), &((src)->a)); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a))(___pb_t))->b); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b))(___pb_t))->c); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c))(___pb_t))->d); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d))(___pb_t))->e); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d->e))(___pb_t))->f); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d->e->f))(___pb_t))->g); \
	fn_last((void *)(dst), sizeof(*(dst)), &((typeof((src)->a->b->c->d->e->f->g))(___pb_t))->h)
#define ___pb_rd_9(fn, fn_last, dst, src, a, b, c, d, e, f, g, h, i) \
	const void *___pb_t; \
	fn((void *)&___pb_t, sizeof(___pb_t), &((src)->a)); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a))(___pb_t))->b); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b))(___pb_t))->c); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c))(___pb_t))->d); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d))(___pb_t))->e); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d->e))(___pb_t))->f); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d->e->f))(___pb_t))->g); \
	fn((void *)&___pb_t, sizeof(___pb_t), &((typeof((src)->a->b->c->d->e->f->g))(___pb_t))->h); \
	fn_last((void *)(dst), sizeof(*(dst)), &((typeof((src)->a->b->c->d->e->f->g->h))(___pb_t))->i)
#define ___pb_rd(fn, fn_last, dst, src, ...) \
	___pb_cat(___pb_rd_, ___pb_narg(__VA_ARGS__))(fn, fn_last, dst, src, __VA_ARGS__)

/* plain (non-CO-RE) reads, for types without preserve_access_index */
#define ___pb_probe_read(dst, sz, src) bpf_probe_read_kernel(dst, sz, (const void *)(src))
#define ___pb_probe_read_str(dst, sz, src) bpf_probe_read_kernel_str(dst, sz, (const void *)(src))

/* BPF_CORE_READ_INTO(&dst, src, a, b, c): dst = src->a->b->c, every step a CO-RE read */
#define BPF_CORE_READ_INTO(dst, src, ...) \
	({ ___pb_rd(bpf_core_read, bpf_core_read, dst, (src), __VA_ARGS__); })
#define BPF_CORE_READ_USER_INTO(dst, src, ...) \
	({ ___pb_rd(bpf_core_read_user, bpf_core_read_user, dst, (src), __VA_ARGS__); })
/* the last field is a string: read up to sizeof(*dst) bytes, stopping at its NUL */
#define BPF_CORE_READ_STR_INTO(dst, src, ...) \
	({ ___pb_rd(bpf_core_read, bpf_core_read_str, dst, (src), __VA_ARGS__); })
#define BPF_CORE_READ_USER_STR_INTO(dst, src, ...) \
	({ ___pb_rd(bpf_core_read_user, bpf_core_read_user_str, dst, (src), __VA_ARGS__); })
#define BPF_PROBE_READ_INTO(dst, src, ...) \
	({ ___pb_rd(___pb_probe_read, ___pb_probe_read, dst, (src), __VA_ARGS__); })
#define BPF_PROBE_READ_STR_INTO(dst, src, ...) \
	({ ___pb_rd(___pb_probe_read, ___pb_probe_read_str, dst, (src), __VA_ARGS__); })

/* BPF_CORE_READ(src, a, b, c): the value of src->a->b->c (each pointer read with CO-RE) */
#define BPF_CORE_READ(src, ...)                                                    \
	({                                                                         \
		___pb_unqual(___pb_arrow((src), __VA_ARGS__)) ___pb_r;                    \
		BPF_CORE_READ_INTO(&___pb_r, (src), __VA_ARGS__);                   \
		___pb_r;                                                            \
	})
#define BPF_CORE_READ_USER(src, ...)                                               \
	({                                                                         \
		___pb_unqual(___pb_arrow((src), __VA_ARGS__)) ___pb_r;                    \
		BPF_CORE_READ_USER_INTO(&___pb_r, (src), __VA_ARGS__);              \
		___pb_r;                                                            \
	})
#define BPF_PROBE_READ(src, ...)                                                   \
	({                                                                         \
		___pb_unqual(___pb_arrow((src), __VA_ARGS__)) ___pb_r;                    \
		BPF_PROBE_READ_INTO(&___pb_r, (src), __VA_ARGS__);                  \
		___pb_r;                                                            \
	})

#endif /* __PYBPF_BPF_CORE_READ_H */
