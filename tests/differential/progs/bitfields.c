// cpus: v1 v3 v4
// bitfield reads and writes: shifts and masks
#define SEC(x) __attribute__((section(x), used))

struct flags {
	unsigned int a : 3;
	unsigned int b : 7;
	int c : 5;
	unsigned int d : 17;
	unsigned long long e : 40;
	long long f : 24;
};

SEC("socket") long bitfields(struct flags *f)
{
	f->b = f->a + 1;
	f->d ^= 0x1ffff;
	f->f = -3;
	return f->c + f->e + f->f;
}
