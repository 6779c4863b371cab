// cpus: v1 v3 v4
// .data, .bss, .rodata and custom .data.* sections read and written by a program
#define SEC(x) __attribute__((section(x), used))
typedef unsigned long long u64;

u64 counter = 5;
u64 zeroed;
const volatile u64 limit = 1000;
const volatile char name[16] = "pybpf";
static u64 hidden = 3;
u64 custom SEC(".data.custom") = 9;

SEC("socket") int global_data(void *ctx)
{
	counter += 1;
	zeroed = counter * 2;
	hidden ^= zeroed;
	custom += hidden;
	if (counter > limit)
		return name[0];
	return (int)(counter + zeroed + custom);
}
