// cpus: v3 v4
// ring buffer reserve/submit with a BTF-defined RINGBUF map and a global counter
#define SEC(x) __attribute__((section(x), used))
#define __uint(name, val) int (*name)[val]
typedef unsigned int u32;
typedef unsigned long long u64;

static void *(*bpf_ringbuf_reserve)(void *ringbuf, u64 size, u64 flags) = (void *) 131;
static void (*bpf_ringbuf_submit)(void *data, u64 flags) = (void *) 132;
static u64 (*bpf_ktime_get_ns)(void) = (void *) 5;

struct {
	__uint(type, 27);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct event { u64 ts; u32 pid; char comm[16]; };
u64 dropped;

SEC("tracepoint/sched/sched_switch") int ringbuf(void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->ts = bpf_ktime_get_ns();
	e->pid = 7;
	e->comm[0] = 'x';
	bpf_ringbuf_submit(e, 0);
	return 0;
}
