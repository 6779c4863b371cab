// A shared library function for uprobes on libraries.
__attribute__((noinline)) int lib_square(int x)
{
	asm volatile("" ::: "memory");
	return x * x;
}
