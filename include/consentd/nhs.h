/*
 * nhs: NHS numbers: ten digits, the last a Modulus 11 check digit (weights 10 down to 2 on the
 * first nine; check = 11 - (sum mod 11); 11 means 0; 10 means no valid number).
 *
 * THREAD SAFETY: pure functions.
 */
#ifndef NHS_H
#define NHS_H

#include <stdbool.h>

#define NHS_LEN 10

/* nhs_valid is true if s is exactly ten digits with a correct check digit. */
bool nhs_valid(const char *s);

#endif
