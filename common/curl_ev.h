/* curl_ev: libcurl's multi-socket interface driven by a libev loop, so HTTP
 * requests (health checks, the Kubernetes API) never block the loop. */
#ifndef LB_CURL_EV_H
#define LB_CURL_EV_H

#include <curl/curl.h>
#include <ev.h>

struct curl_ev;
/* A transfer ended (result CURLE_OK or an error). The callback owns `easy`
 * from then on (curl_easy_cleanup it or add it again). */
typedef void (*curl_ev_done_cb)(CURL *easy, CURLcode result, void *data);

/* NULL when libcurl cannot start. */
struct curl_ev *curl_ev_new(struct ev_loop *loop);
/* Starts `easy`; `done` is called when it ends. Uses CURLOPT_PRIVATE. */
int curl_ev_add(struct curl_ev *c, CURL *easy, curl_ev_done_cb done, void *data);
/* Stops `easy` without calling `done`; the caller still owns it. */
void curl_ev_remove(struct curl_ev *c, CURL *easy);
/* Stops every transfer (their `done` is not called) and frees. */
void curl_ev_free(struct curl_ev *c);

#endif
