// cpus: v2 v3 v4
// 32-bit compares: JMP32 class with -mcpu=v3, wide compares before
#define SEC(x) __attribute__((section(x), used))
typedef unsigned int u32;
typedef int s32;

SEC("socket") int jmp32(u32 *ctx)
{
	u32 a = ctx[0], b = ctx[1];
	s32 sa = (s32)ctx[2], sb = (s32)ctx[3];
	int r = 0;
	if (a == b) r += 1;
	if (a != 7) r += 2;
	if (a > b) r += 3;
	if (a >= 100) r += 4;
	if (a < b) r += 5;
	if (b <= 9) r += 6;
	if (sa > sb) r += 7;
	if (sa >= -5) r += 8;
	if (sa < sb) r += 9;
	if (sb <= -100) r += 10;
	if (a & 0x40) r += 11;
	return r;
}
