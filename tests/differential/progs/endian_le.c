// cpus: v1 v3
// explicit le/be conversions through the BPF builtins
#define SEC(x) __attribute__((section(x), used))
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

SEC("tc") int endian_le(u64 *ctx)
{
	u16 port = __builtin_bswap16((u16)ctx[0]);
	u32 addr = __builtin_bswap32((u32)ctx[1]);
	if (port == 80 && addr == 0x0a000001)
		return 1;
	return 0;
}
