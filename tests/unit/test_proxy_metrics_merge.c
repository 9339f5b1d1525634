/* Unit tests for metrics_merge and info_merge (lb-proxy/control/): the
 * supervisor's /metrics (Prometheus text format 0.0.4) and /info of several workers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "control/info_merge.h"
#include "control/metrics_merge.h"

static const char w0[] =
	"# HELP lb_proxy_requests_total Requests.\n"
	"# TYPE lb_proxy_requests_total counter\n"
	"lb_proxy_requests_total{code_class=\"2xx\"} 10\n"
	"# HELP lb_proxy_client_connections Open.\n"
	"# TYPE lb_proxy_client_connections gauge\n"
	"lb_proxy_client_connections 3\n"
	"# TYPE lb_proxy_set_generation gauge\n"
	"lb_proxy_set_generation 7\n"
	"# TYPE lb_proxy_request_duration_seconds histogram\n"
	"lb_proxy_request_duration_seconds_bucket{le=\"0.1\"} 4\n"
	"lb_proxy_request_duration_seconds_bucket{le=\"+Inf\"} 10\n"
	"lb_proxy_request_duration_seconds_sum 0.25\n"
	"lb_proxy_request_duration_seconds_count 10\n"
	"# TYPE lb_proxy_tls_resumption_ratio gauge\n"
	"lb_proxy_tls_resumption_ratio 0.5\n";

/* Another worker: one more series (a 5xx) that must join its family, a
 * label value with a space and a brace, a malformed line, CRLF. */
static const char w1[] =
	"# HELP lb_proxy_requests_total Requests.\r\n"
	"# TYPE lb_proxy_requests_total counter\r\n"
	"lb_proxy_requests_total{code_class=\"2xx\"} 5\n"
	"lb_proxy_requests_total{code_class=\"5xx\"} 1\n"
	"# TYPE lb_proxy_client_connections gauge\n"
	"lb_proxy_client_connections 2\n"
	"# TYPE lb_proxy_set_generation gauge\n"
	"lb_proxy_set_generation 8\n"
	"# TYPE lb_proxy_request_duration_seconds histogram\n"
	"lb_proxy_request_duration_seconds_bucket{le=\"0.1\"} 1\n"
	"lb_proxy_request_duration_seconds_bucket{le=\"+Inf\"} 6\n"
	"lb_proxy_request_duration_seconds_sum 0.5\n"
	"lb_proxy_request_duration_seconds_count 6\n"
	"# TYPE lb_proxy_tls_resumption_ratio gauge\n"
	"lb_proxy_tls_resumption_ratio 1\n"
	"# TYPE lb_proxy_errors_total counter\n"
	"lb_proxy_errors_total{why=\"a } b\"} 2\n"
	"lb_proxy_errors_total{why=\"unterminated} 2\n"
	"not a metric line\n";

static void test_merge(void **state)
{
	const struct metrics_part parts[] = {
		{ w0, sizeof(w0) - 1, 0, 100 },
		{ w1, sizeof(w1) - 1, 1, 101 },
	};
	const char *want =
		"# HELP lb_proxy_requests_total Requests.\n"
		"# TYPE lb_proxy_requests_total counter\n"
		"lb_proxy_requests_total{code_class=\"2xx\"} 15\n"
		"lb_proxy_requests_total{code_class=\"5xx\"} 1\n"
		"# HELP lb_proxy_client_connections Open.\n"
		"# TYPE lb_proxy_client_connections gauge\n"
		"lb_proxy_client_connections 5\n"		/* a load: summed */
		"# TYPE lb_proxy_set_generation gauge\n"
		"lb_proxy_set_generation 8\n"			/* a state: the highest */
		"# TYPE lb_proxy_request_duration_seconds histogram\n"
		"lb_proxy_request_duration_seconds_bucket{le=\"0.1\"} 5\n"
		"lb_proxy_request_duration_seconds_bucket{le=\"+Inf\"} 16\n"
		"lb_proxy_request_duration_seconds_sum 0.75\n"
		"lb_proxy_request_duration_seconds_count 16\n"
		"# TYPE lb_proxy_tls_resumption_ratio gauge\n"
		"lb_proxy_tls_resumption_ratio 0.75\n"		/* a ratio: the mean */
		"# TYPE lb_proxy_errors_total counter\n"
		"lb_proxy_errors_total{why=\"a } b\"} 2\n"
		"# HELP lb_proxy_worker_requests_total Requests each worker answered (its "
		"lb_proxy_requests_total).\n"
		"# TYPE lb_proxy_worker_requests_total counter\n"
		"lb_proxy_worker_requests_total{worker=\"0\",pid=\"100\"} 10\n"
		"lb_proxy_worker_requests_total{worker=\"1\",pid=\"101\"} 6\n";
	struct buf out = BUF_INIT;
	(void)state;

	assert_int_equal(metrics_merge(&out, parts, 2), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);	/* the text is not terminated */
	assert_string_equal(out.data, want);
	buf_release(&out);
}

/* One worker: its text back as it was (plus the per-worker series); none: only those. */
static void test_merge_one_and_none(void **state)
{
	const struct metrics_part one = { w0, sizeof(w0) - 1, 0, 42 };
	struct buf out = BUF_INIT;
	(void)state;

	assert_int_equal(metrics_merge(&out, &one, 1), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	assert_int_equal(strncmp(out.data, w0, sizeof(w0) - 1), 0);
	assert_non_null(strstr(out.data, "{worker=\"0\",pid=\"42\"} 10\n"));
	buf_reset(&out);
	assert_int_equal(metrics_merge(&out, NULL, 0), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	assert_null(strstr(out.data, "lb_proxy_worker_requests_total{"));
	buf_release(&out);
}

/* /info: counts summed (backends matched by address, one only in worker 1
 * left out), the rest the first worker's, a worker that sent no object skipped. */
static void test_info_merge(void **state)
{
	static const char i0[] =
		"{\"uptime\":5.5,\"generation\":3,\"total_requests\":10,"
		"\"backends\":[{\"address\":\"a:1\",\"weight\":2,\"requests_forwarded\":6,"
		"\"active\":1,\"breaker\":{\"state\":\"closed\",\"ejections_total\":1}},"
		"{\"address\":\"b:1\",\"weight\":1,\"requests_forwarded\":4,\"active\":0}],"
		"\"queue\":{\"length\":1,\"size\":1024},\"panic\":{\"entered_total\":0}}";
	static const char i1[] =
		"{\"uptime\":5.4,\"generation\":3,\"total_requests\":7,"
		"\"backends\":[{\"address\":\"b:1\",\"weight\":1,\"requests_forwarded\":3,"
		"\"active\":2},{\"address\":\"a:1\",\"weight\":2,\"requests_forwarded\":4,"
		"\"active\":0,\"breaker\":{\"state\":\"open\",\"ejections_total\":2}},"
		"{\"address\":\"c:1\",\"requests_forwarded\":9}],"
		"\"queue\":{\"length\":2,\"size\":1024},\"panic\":{\"entered_total\":1}}";
	static const char broken[] = "<html>not json";
	const struct metrics_part parts[] = {
		{ i0, sizeof(i0) - 1, 0, 100 },
		{ broken, sizeof(broken) - 1, 1, 101 },
		{ i1, sizeof(i1) - 1, 2, 102 },
	};
	const char *want =
		"{\"uptime\":5.5,\"generation\":3,\"total_requests\":17,"
		"\"backends\":[{\"address\":\"a:1\",\"weight\":2,\"requests_forwarded\":10,"
		"\"active\":1,\"breaker\":{\"state\":\"closed\",\"ejections_total\":3}},"
		"{\"address\":\"b:1\",\"weight\":1,\"requests_forwarded\":7,\"active\":2}],"
		"\"queue\":{\"length\":3,\"size\":1024},\"panic\":{\"entered_total\":1},"
		"\"workers\":[{\"worker\":0,\"pid\":100,\"total_requests\":10,\"uptime\":5.5},"
		"{\"worker\":2,\"pid\":102,\"total_requests\":7,\"uptime\":5.4}]}";
	struct buf out = BUF_INIT;
	(void)state;

	assert_int_equal(info_merge(&out, parts, 3), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	assert_string_equal(out.data, want);
	buf_reset(&out);
	assert_int_equal(info_merge(&out, &parts[1], 1), -1);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_one_and_none),
		cmocka_unit_test(test_info_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
