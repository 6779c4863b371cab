// cpus: v1 v4
// builtin memcpy / memset expanded into loads and stores
#define SEC(x) __attribute__((section(x), used))

struct big { long a[6]; int b; short c; char d; };

SEC("socket") int memcpy_prog(struct big *in)
{
	struct big tmp;
	__builtin_memset(&tmp, 0, sizeof(tmp));
	__builtin_memcpy(&tmp, in, sizeof(tmp));
	tmp.d ^= 1;
	__builtin_memcpy(in, &tmp, sizeof(tmp));
	return tmp.b;
}
