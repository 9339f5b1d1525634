/* echo_routes: lb-echo's answers (identity, JSON echo, health, faults). */
#ifndef LB_ECHO_ROUTES_H
#define LB_ECHO_ROUTES_H

#include "echo_server.h"

/* The delay in ms the complete request in c->msg must wait before it is
 * answered (0 for none): injected delays apply to ordinary requests only. */
long echo_routes_delay(struct echo_conn *c);
/* Appends the answer to the complete request in c->msg (body in c->body) to
 * c->out. Returns the status sent; 101 means the connection is now a tunnel. */
int echo_routes_answer(struct echo_conn *c, int keep_alive);
/* Appends an error answer (400, 408, 413, 431 ...) that closes the connection. */
void echo_routes_error(struct echo_conn *c, int status, const char *reason);

#endif
