/* arena.h - a private bump allocator for one request's lifetime (service.c).
 * Not a public module: it lives in src/ and only the skeleton uses it.
 */
#ifndef RAPPORT_ARENA_H
#define RAPPORT_ARENA_H
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef struct rp_arena_chunk rp_arena_chunk_t;

typedef struct {
    rp_arena_chunk_t *head;     /* current chunk; earlier ones follow ->next */
    ProtobufCAllocator pb;      /* protobuf-c allocator over this arena */
} rp_arena_t;

typedef struct {
    rp_arena_chunk_t *chunk;
    size_t used;
} rp_arena_mark_t;

void rp_arena_init(rp_arena_t *a);
/* rp_arena_alloc - zeroed, 16-byte aligned, never NULL. */
void *rp_arena_alloc(rp_arena_t *a, size_t n);
rp_arena_mark_t rp_arena_mark(rp_arena_t *a);
/* rp_arena_release - free everything allocated after mark. */
void rp_arena_release(rp_arena_t *a, rp_arena_mark_t mark);
/* rp_arena_reset - free everything but the first chunk. */
void rp_arena_reset(rp_arena_t *a);
void rp_arena_free(rp_arena_t *a);

#endif
