/* CO-RE relocations of several kinds; used by tests/unit/test_btf_ext.py. */
#define SEC(name) __attribute__((section(name), used))

struct task_struct {
	int pid;
	int tgid;
	struct task_struct *real_parent;
	unsigned int flags_bits : 4;
} __attribute__((preserve_access_index));

enum pid_type { PIDTYPE_PID, PIDTYPE_TGID, PIDTYPE_PGID };

SEC("kprobe/do_nanosleep")
int probe(struct task_struct *task)
{
	int pid = task->pid;                                                        /* FIELD_BYTE_OFFSET */
	int parent_tgid = task->real_parent->tgid;                                  /* two offsets */
	int has = __builtin_preserve_field_info(task->tgid, 2);                     /* FIELD_EXISTS */
	int size = __builtin_preserve_field_info(task->flags_bits, 1);              /* FIELD_BYTE_SIZE */
	int tsize = __builtin_preserve_type_info(*(struct task_struct *)0, 1);     /* TYPE_SIZE */
	int ev = __builtin_preserve_enum_value(*(enum pid_type *)PIDTYPE_TGID, 1); /* ENUMVAL_VALUE */
	return pid + parent_tgid + has + size + tsize + ev;
}

char _license[] SEC("license") = "GPL";
