/* arena.c - a bump allocator for one request: every allocation a handler makes
 * for its reply, and every message unpacked for it, goes here and is released in
 * one step after the reply is sent. The first chunk is kept between requests so a
 * steady load does not touch malloc.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "arena.h"
#include "rapport/util.h"

#define S_CHUNK 8192

struct rp_arena_chunk {
    rp_arena_chunk_t *next;     /* the chunk allocated before this one */
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

static void *
s_pb_alloc(void *data, size_t n)
{
    return rp_arena_alloc(data, n);
}

static void
s_pb_free(void *data, void *p)
{
    (void) data;
    (void) p;       /* released with the arena */
}

void
rp_arena_init(rp_arena_t *a)
{
    a->head = NULL;
    a->pb.alloc = s_pb_alloc;
    a->pb.free = s_pb_free;
    a->pb.allocator_data = a;
}

void *
rp_arena_alloc(rp_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t) 15;
    if (n == 0)
        n = 16;
    rp_arena_chunk_t *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > S_CHUNK ? n : S_CHUNK;
        c = rp_malloc(sizeof *c + size);
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

rp_arena_mark_t
rp_arena_mark(rp_arena_t *a)
{
    rp_arena_mark_t m = { a->head, a->head ? a->head->used : 0 };
    return m;
}

void
rp_arena_release(rp_arena_t *a, rp_arena_mark_t mark)
{
    while (a->head && a->head != mark.chunk) {
        rp_arena_chunk_t *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    if (a->head)
        a->head->used = mark.used;
}

void
rp_arena_reset(rp_arena_t *a)
{
    while (a->head && a->head->next) {
        rp_arena_chunk_t *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    if (a->head) {
        /* Keep only a standard-size first chunk; a jumbo one goes back. */
        if (a->head->size > S_CHUNK) {
            free(a->head);
            a->head = NULL;
        } else
            a->head->used = 0;
    }
}

void
rp_arena_free(rp_arena_t *a)
{
    while (a->head) {
        rp_arena_chunk_t *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}
