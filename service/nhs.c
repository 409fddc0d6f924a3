/*
 * nhs: the Modulus 11 check of NHS numbers.
 */
#include <string.h>

#include "consentd/nhs.h"

bool
nhs_valid(const char *s)
{
    unsigned sum = 0, check;
    size_t i;

    if (s == NULL || strlen(s) != NHS_LEN)
        return false;
    for (i = 0; i < NHS_LEN; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    for (i = 0; i < NHS_LEN - 1; i++)
        sum += (unsigned)(s[i] - '0') * (unsigned)(10 - i);
    check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    /* A check digit of 10 means the first nine digits are not an NHS number at all. */
    if (check == 10)
        return false;
    return (unsigned)(s[NHS_LEN - 1] - '0') == check;
}
