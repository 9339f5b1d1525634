/* tcp_relay: the bytes of a TCP-mode connection, both ways, with
 * back-pressure (a side is read only while the other can take it) and
 * half-close (a FIN is passed on as shutdown(SHUT_WR)). */
#ifndef LB_PROXY_TCP_RELAY_H
#define LB_PROXY_TCP_RELAY_H

#include "tcp_session_state.h"

/* Starts relaying on s, whose backend just connected: what s->up holds
 * already (the ClientHello, behind the PROXY v2 header) is written first.
 * The session is ended (tp->session_close) when both directions are
 * done, on an error or on --idle-timeout. */
void tcp_relay_start(struct tcp_session *s);
/* The idle deadline fired (s->timer in RELAY): closes s when nothing moved
 * for --idle-timeout, else sets the timer for what is left. */
void tcp_relay_on_timer(struct tcp_session *s);

#endif
