/* Initialised globals whose bytes clang lays out; test_btf_values.py decodes them from .data. */
#define SEC(name) __attribute__((section(name), used))

enum state { IDLE = 0, RUNNING = 1, STOPPED = 4 };
enum delta { DOWN = -1, FLAT = 0, UP = 1 };

struct bits {
	unsigned int lo : 3;
	int neg : 5;
	enum state st : 3;
	_Bool flag : 1;
	unsigned long long wide : 37;
	short tail;
};

struct record {
	int pid;
	char comm[8];
	struct bits b;
	union {
		unsigned int raw;
		struct {
			unsigned short lo16;
			unsigned short hi16;
		};
	};
	enum delta d;
	signed char sc[3];
	unsigned char uc[2];
	long long big;
	double ratio;
	struct record *next;
	int grid[2][2];
};

struct record rec = {
	.pid = -42,
	.comm = "bash",
	.b = { .lo = 5, .neg = -9, .st = STOPPED, .flag = 1, .wide = 0x1234567891ULL, .tail = -300 },
	.raw = 0xBEEF1234,
	.d = DOWN,
	.sc = { -1, 2, -3 },
	.uc = { 200, 7 },
	.big = -1234567890123LL,
	.ratio = 2.5,
	.next = 0,
	.grid = { { 1, -2 }, { 3, -4 } },
};
int counter = 7;

SEC("tp/syscalls/sys_enter_getpid")
int prog(void *ctx)
{
	return rec.pid + counter;
}

char _license[] SEC("license") = "GPL";
