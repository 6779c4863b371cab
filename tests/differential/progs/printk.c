// cpus: v1 v4
// bpf_trace_printk with format strings in .rodata
#define SEC(x) __attribute__((section(x), used))

static long (*bpf_trace_printk)(const char *fmt, unsigned int fmt_size, ...) = (void *) 6;

SEC("tracepoint/syscalls/sys_enter_openat") int printk(void *ctx)
{
	static const char fmt[] = "hello %d\n";
	static const char fmt2[] = "ctx %p value %lu\n";
	bpf_trace_printk(fmt, sizeof(fmt), 42);
	bpf_trace_printk(fmt2, sizeof(fmt2), ctx, 7ULL);
	return 0;
}
