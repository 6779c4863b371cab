// cpus: v3 v4
// calls to kernel functions declared as externs (.ksyms)
#define SEC(x) __attribute__((section(x), used))
#define __ksym __attribute__((section(".ksyms")))
struct task_struct;

extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern int bpf_some_weak_kfunc(int x) __ksym __attribute__((weak));

SEC("tp_btf/task_newtask") int kfunc(unsigned long long *ctx)
{
	struct task_struct *t = bpf_task_acquire((struct task_struct *)ctx[0]);
	if (!t)
		return 0;
	bpf_task_release(t);
	if (bpf_some_weak_kfunc)
		return bpf_some_weak_kfunc(3);
	return 1;
}
