// cpus: v4
// instructions compilers only emit through inline assembly: callx, gotol, may_goto, jset, ld_pseudo, neg
#define SEC(x) __attribute__((section(x), used))

SEC("socket") int inline_asm(void *ctx)
{
	asm volatile("r1 = 0 ll; callx r1" ::: "r0", "r1", "r2", "r3", "r4", "r5");
	asm volatile("gotol +1; r0 = 1" ::: "r0");
	asm volatile("ld_pseudo r2, 1, 7" ::: "r2");
	asm volatile("ld_pseudo r3, 4, 0" ::: "r3");
	asm volatile("r4 = -r4; w5 = -w5" ::: "r4", "r5");
	asm volatile("r0 = *(u16 *)skb[12]; r0 = *(u32 *)skb[r6]" ::: "r0");
	asm volatile("if r1 & r2 goto +1; if w3 & 0x10 goto +1; r0 = 3" ::: "r0");
	asm volatile("may_goto +1; r0 = 2" ::: "r0");
	asm volatile("w1 = (s8)w2; w3 = (s16)w4; r1 = (s32)r2" ::: "r1", "r3");
	asm volatile("r1 = le16 r1; r2 = be32 r2; r3 = le64 r3" ::: "r1", "r2", "r3");
	return 0;
}
