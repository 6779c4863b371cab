// cpus: v1 v3 v4
// loads and stores of every size, register and immediate stores, stack slots
#define SEC(x) __attribute__((section(x), used))
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

struct rec { u8 a; u16 b; u32 c; u64 d; };

SEC("socket") int loads_stores(struct rec *in)
{
	volatile struct rec tmp;
	tmp.a = in->a;
	tmp.b = in->b;
	tmp.c = in->c;
	tmp.d = in->d;
	in->a = 1;
	in->b = 2;
	in->c = 3;
	in->d = 4;
	volatile u64 big[8];
	big[7] = tmp.d + tmp.c;
	big[0] = 0xffffffff;
	return tmp.a + tmp.b + (int)big[7] + (int)big[0];
}
