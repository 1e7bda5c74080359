/*
 * qemu_harness_exitcode: returns 1 from main(). Registered WILL_FAIL, so it
 * only passes if a non-zero guest exit status reaches CTest.
 */
#include <stdio.h>

int main(void)
{
    printf("harness: returning 1 on purpose\n");
    return 1;
}
