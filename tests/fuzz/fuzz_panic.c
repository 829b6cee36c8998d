/* The fuzzers' coord_panic: a broken invariant becomes a crash that libFuzzer
 * reports with the input that caused it. */
#include <stdio.h>
#include <stdlib.h>

#include "coord/types.h"

_Noreturn void coord_panic(const char *file, int line, const char *expr)
{
    fprintf(stderr, "coord_panic: %s:%d: %s\n", file, line, expr);
    abort();
}
