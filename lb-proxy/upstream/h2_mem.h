/* h2_mem: the allocator nghttp2 uses for backend connections and client
 * connections (http/h2_conn.c): small blocks (its stream objects, header
 * copies, frames) come back to free lists by size class instead of malloc and
 * free per request. */
#ifndef LB_PROXY_H2_MEM_H
#define LB_PROXY_H2_MEM_H

#include <nghttp2/nghttp2.h>

/* Blocks of a class kept free at most, and the largest block cached (a
 * larger one is malloc's). */
#define H2_MEM_KEEP 4096
#define H2_MEM_MAX_BLOCK 1024

/* The allocator (nghttp2_session_client_new3's and _server_new3's `mem`);
 * one loop, one thread. */
nghttp2_mem *h2_mem(void);
/* Frees the cached blocks (at exit, after the last session of either side
 * was deleted). */
void h2_mem_release(void);

#endif
