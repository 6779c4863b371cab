// cpus: v1 v4
// large stack frames: negative offsets from r10 up to -512
#define SEC(x) __attribute__((section(x), used))

SEC("socket") int stack(int *ctx)
{
	volatile char buf[500];
	for (int i = 0; i < 500; i += 50)
		buf[i] = (char)ctx[i & 3];
	buf[499] = 1;
	return buf[0] + buf[250] + buf[499];
}
