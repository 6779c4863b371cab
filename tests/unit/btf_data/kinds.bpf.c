/* Exercises every BTF kind clang emits; used by tests/unit/test_btf_*.py. */
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __ttag(x) __attribute__((btf_type_tag(x)))

enum color { RED = 1, GREEN = 2, BLUE = 4 };
enum sign { NEG = -3, ZERO = 0, POS = 5 };
enum big { BIG_SMALL = 1, BIG_HUGE = 0x1234567890ULL };

struct opaque;             /* FWD (struct) */
union opaque_u;            /* FWD (union) */

struct flags {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 7;
	unsigned char d;
	unsigned long long e : 40;
};

union number {
	__u32 u;
	float f;
	char bytes[4];
};

struct event {
	int pid;
	__u32 uid;
	char comm[16];
	enum color color;
	enum sign sign;
	enum big big;
	struct flags flags;
	union number num;
	double ratio;
	_Bool ok;
	const volatile short cv;
	struct opaque *op;
	union opaque_u *opu;
	int __ttag("user") *tagged;
	__s8 small[3];
	__u64 matrix[2][3];
} __tag("event_tag");

struct {
	__uint(type, 1);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct event);
} events SEC(".maps");

const volatile int limit = 7;
int counter = 3;
struct event last_event;
static __u64 hidden_total;

static __attribute__((noinline)) int helper(struct event *e, int x)
{
	return e->pid + x;
}

SEC("tracepoint/syscalls/sys_enter_write")
int entry_fn(struct event *ctx __tag("ctx_tag"), struct opaque *o)
{
	int r;

	counter += 1;
	r = helper(ctx, limit);
	last_event.pid = r;
	hidden_total += ctx->flags.b;
	return r + (int)ctx->num.u;
}

char _license[] SEC("license") = "GPL";
