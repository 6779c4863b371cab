// Calls lib_probe() from libusdt.so after a line on stdin; prints whether its probe was enabled.
#include <stdio.h>
#include <stdlib.h>

int lib_probe(int x);

int main(int argc, char **argv)
{
	char line[16];

	if (!fgets(line, sizeof line, stdin))
		return 1;
	printf("guarded=%d\n", lib_probe(argc > 1 ? atoi(argv[1]) : 1));
	return 0;
}
