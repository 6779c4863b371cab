/* Self-contained definitions for the ELF loader's test fixtures (no libbpf headers). */
#ifndef PYBPF_ELF_TEST_H
#define PYBPF_ELF_TEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int s32;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define __ksym __attribute__((section(".ksyms")))
#define __kconfig __attribute__((section(".kconfig")))
#define __weak __attribute__((weak))
#define __noinline __attribute__((noinline))

/* enum bpf_map_type values used by the fixtures */
#define MAP_HASH 1
#define MAP_ARRAY 2
#define MAP_PROG_ARRAY 3
#define MAP_PERF_EVENT_ARRAY 4
#define MAP_LRU_HASH 9
#define MAP_ARRAY_OF_MAPS 12
#define MAP_HASH_OF_MAPS 13
#define MAP_RINGBUF 27
#define MAP_BLOOM_FILTER 30

#define F_NO_PREALLOC (1U << 0)
#define F_NUMA_NODE (1U << 2)
#define F_RDONLY_PROG (1U << 7)
#define PIN_BY_NAME 1

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, u64 flags) = (void *)2;
static long (*bpf_tail_call)(void *ctx, void *prog_array, u32 index) = (void *)12;
static long (*bpf_loop)(u32 nr, void *callback_fn, void *callback_ctx, u64 flags) = (void *)181;

#endif
