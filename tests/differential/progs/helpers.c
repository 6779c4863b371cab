// cpus: v1 v4
// many helper calls, including ones with many arguments
#define SEC(x) __attribute__((section(x), used))
typedef unsigned int u32;
typedef unsigned long long u64;

static u64 (*bpf_ktime_get_ns)(void) = (void *) 5;
static u64 (*bpf_get_current_pid_tgid)(void) = (void *) 14;
static u64 (*bpf_get_current_uid_gid)(void) = (void *) 15;
static long (*bpf_get_current_comm)(void *buf, u32 size) = (void *) 16;
static u32 (*bpf_get_prandom_u32)(void) = (void *) 7;
static u32 (*bpf_get_smp_processor_id)(void) = (void *) 8;
static long (*bpf_probe_read_kernel)(void *dst, u32 size, const void *src) = (void *) 113;

SEC("kprobe/vfs_read") int helpers(void *ctx)
{
	char comm[16];
	u64 t = bpf_ktime_get_ns();
	u64 id = bpf_get_current_pid_tgid() ^ bpf_get_current_uid_gid();
	bpf_get_current_comm(comm, sizeof(comm));
	long v = 0;
	bpf_probe_read_kernel(&v, sizeof(v), ctx);
	return (int)(t + id + comm[0] + v + bpf_get_prandom_u32() + bpf_get_smp_processor_id());
}
