/* Built-in self test, only in SAMPLE_SELFTEST builds (QEMU boot test). */
#ifndef SAMPLE_SELFTEST_H
#define SAMPLE_SELFTEST_H

int selftest_run(void); /* returns the number of failed checks */

#endif
