// cpus: v1 v2 v3 v4
// license and version sections next to two programs in one section
#define SEC(x) __attribute__((section(x), used))

char LICENSE[] SEC("license") = "GPL";
unsigned int VERSION SEC("version") = 0x060000;

SEC("xdp") int first(void *ctx) { return 2; }
SEC("xdp") int second(void *ctx) { return 1; }
