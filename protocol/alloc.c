/* The allocator hook: every allocation of the core goes through here, so a
 * host can account for memory and a test can inject allocation failure. */
#include <stdlib.h>
#include <string.h>

#include "coord/types.h"

static struct coord_heap heap_current = {malloc, realloc, free};

void coord_heap_set(const struct coord_heap *heap)
{
    if (heap == NULL) {
        heap_current.malloc = malloc;
        heap_current.realloc = realloc;
        heap_current.free = free;
        return;
    }
    heap_current = *heap;
}

void *coord_malloc(size_t size)
{
    return heap_current.malloc(size == 0 ? 1 : size);
}

void *coord_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    void *p = coord_malloc(count * size);
    if (p != NULL) {
        memset(p, 0, count * size);
    }
    return p;
}

void *coord_realloc(void *ptr, size_t size)
{
    return heap_current.realloc(ptr, size == 0 ? 1 : size);
}

void coord_free(void *ptr)
{
    if (ptr != NULL) {
        heap_current.free(ptr);
    }
}
