# Makefile -- builds the server (bin/activity-stream), the feed simulator (bin/feedsim),
# the tests (Criterion, built with ASan+UBSan) and the benchmarks.
# `make help` lists the targets. Missing Debian packages are installed first (.ci/install-deps).

# `make` with no target builds the programs (the first rule below would otherwise be the
# default goal, since the package flags are written by a rule).
.DEFAULT_GOAL := all

CC      ?= cc
SHELL   := /bin/bash
PKGS    := libh2o-evloop openssl lmdb jansson libcurl yaml-0.1
WARN    := -Wall -Wextra -Wmissing-prototypes -Wno-unused-parameter
BASE    := -std=gnu11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -Iinclude -MMD -MP
OPT     ?= -O2 -g
SAN     := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=build/%.o)
SAN_OBJ := $(LIB_SRC:src/%.c=build/asan/%.o)
SIM_SRC := $(wildcard tests/feedsim/*.c)
# Unit tests: pure modules, no sockets, no child processes (tests/unit/). Integration tests:
# real servers, feedsim, crashes (tests/integration/). Support files shared by both: tests/*.c.
UNIT_SRC  := $(wildcard tests/unit/*.c)
INTEG_SRC := $(wildcard tests/integration/*.c)
SUPP_SRC  := $(filter-out tests/harness.c,$(wildcard tests/*.c))
BEN_SRC := $(wildcard tests/bench/*.c)
BENCHES := $(BEN_SRC:tests/bench/%.c=build/bench/%)

# Compiler and linker flags for the packages, cached once the packages are there.
ifeq ($(filter clean help,$(MAKECMDGOALS)),)
-include build/pkg.mk
endif
build/pkg.mk: .ci/install-deps
	@mkdir -p build
	@.ci/install-deps build
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs $(PKGS)) -lz -lpthread -lm"; } > $@

CFLAGS_ALL = $(BASE) $(WARN) $(PKG_CFLAGS)
LIBS       = $(PKG_LIBS)

.PHONY: all all-tests run cluster test one unit unit-san integration browser-test node-test client-test bench fuzz clean help
all: bin/activity-stream bin/feedsim

help:
	@echo "make            build bin/activity-stream and bin/feedsim (same as make all)"
	@echo "make run        the demo: two simulated feeds and the server on a fresh store (conf/run-demo);"
	@echo "                prints the dashboard URL and curl examples; Ctrl-C stops it"
	@echo "make cluster    a primary, two replicas and HAProxy on loopback (conf/run-cluster)"
	@echo "make test       unit + integration tests (ASan/UBSan, one Criterion run), the browser, node and client tests"
	@echo "make all-tests  unit + integration tests only (ASan/UBSan, one Criterion run)"
	@echo "make unit       unit tests only: pure modules, no sockets, no sanitizers (seconds)"
	@echo "make unit-san   the same under ASan/UBSan"
	@echo "make integration  integration tests only: real servers, feedsim, crashes"
	@echo "make browser-test  the dashboard in headless Chromium (tests/browser/run)"
	@echo "make node-test  Hawk against the server with the reference client (@hapi/hawk)"
	@echo "make client-test   the official Elasticsearch clients (JavaScript 8.x, Python 7.17) against the server"
	@echo "make one T=timefmt MODS=timefmt  one test file against chosen modules (no MODS: all; H=1: with the harness)"
	@echo "make bench      benchmarks (store, ingest, queries, streaming, replication)"
	@echo "make fuzz       fuzz the query parser, and pagescan with the AS2 reader, for a bounded time"
	@echo "make clean      remove build/ and bin/"
	@echo "make help       this list"
	@echo "Tests take TEST_ARGS, e.g. make integration TEST_ARGS=\"--filter 'readme/*'\""

build/%.o: src/%.c build/pkg.mk
	@mkdir -p $(@D)
	$(CC) $(OPT) $(CFLAGS_ALL) -c $< -o $@
build/asan/%.o: src/%.c build/pkg.mk
	@mkdir -p $(@D)
	$(CC) $(SAN) $(CFLAGS_ALL) -c $< -o $@

# The modules go into an archive, so each program links only the modules it uses.
build/libas.a: $(LIB_OBJ)
	$(AR) rcs $@ $^
build/asan/libas.a: $(SAN_OBJ)
	$(AR) rcs $@ $^

bin/activity-stream: build/main.o build/libas.a
	@mkdir -p $(@D)
	$(CC) $(OPT) -o $@ $^ $(LIBS)
build/asan/bin/activity-stream: build/asan/main.o build/asan/libas.a
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

build/feedsim/%.o: tests/feedsim/%.c build/pkg.mk
	@mkdir -p $(@D)
	$(CC) $(OPT) $(CFLAGS_ALL) -c $< -o $@
bin/feedsim: $(SIM_SRC:tests/feedsim/%.c=build/feedsim/%.o) build/libas.a
	@mkdir -p $(@D)
	$(CC) $(OPT) -o $@ $^ $(LIBS)

# Tests. `make test` runs unit and integration tests in one Criterion binary (one summary
# line for CI); `make unit` and `make integration` build a binary of their half only.
build/.deps-test: .ci/install-deps
	@mkdir -p build
	@.ci/install-deps test
	@touch $@
build/asan/tests/%.o: tests/%.c build/pkg.mk build/.deps-test
	@mkdir -p $(@D)
	$(CC) $(SAN) $(CFLAGS_ALL) -Itests -c $< -o $@
UNIT_OBJ  = $(UNIT_SRC:tests/%.c=build/asan/tests/%.o)
INTEG_OBJ = $(INTEG_SRC:tests/%.c=build/asan/tests/%.o)
# Test support (tests/*.c: the integration harness, the store fixture, ...) is an archive, so
# each test binary links what its tests use.
build/asan/tests/libsupport.a: $(SUPP_SRC:tests/%.c=build/asan/tests/%.o) build/asan/tests/harness.o
	$(AR) rcs $@ $^
TEST_LIBS = build/asan/tests/libsupport.a build/asan/libas.a
build/asan/tests/run-tests: $(UNIT_OBJ) $(INTEG_OBJ) $(TEST_LIBS)
	$(CC) $(SAN) -o $@ $^ $(LIBS) -lcriterion
build/asan/tests/unit-tests: $(UNIT_OBJ) $(TEST_LIBS)
	$(CC) $(SAN) -o $@ $^ $(LIBS) -lcriterion
build/asan/tests/integration-tests: $(INTEG_OBJ) $(TEST_LIBS)
	$(CC) $(SAN) -o $@ $^ $(LIBS) -lcriterion

# Sanitizer reports (ASan, LSan, UBSan) of the tests and of the servers they start are
# written to build/san/; any report fails the run (Criterion alone would not see a leak).
SAN_LOG  = $(CURDIR)/build/san/report
TEST_ENV = AS_SERVER=build/asan/bin/activity-stream AS_FEEDSIM=bin/feedsim AS_FIXTURES=tests/fixtures \
           ASAN_OPTIONS=detect_leaks=1:log_path=$(SAN_LOG) \
           UBSAN_OPTIONS=print_stacktrace=1:log_path=$(SAN_LOG) \
           LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
define check_sanitizers
	@if [ -n "$$(find build/san -type f -size +0 2>/dev/null)" ]; then find build/san -type f -size +0 -exec cat {} + >&2; \
	  echo "sanitizer reports above (build/san/)" >&2; exit 1; fi
endef
INTEG_DEPS = all build/asan/bin/activity-stream
# The servers the tests start log among Criterion's lines, so a failure is recalled at the end,
# above the summary line repeated (all of it on stderr, as Criterion prints it).
define run_criterion
	@rm -rf build/san && mkdir -p build/san
	{ $(TEST_ENV) $(1) --jobs 2 $(TEST_ARGS) 2>&1; echo $$? > build/criterion.rc; } | tee build/criterion.log >&2; \
	rc=$$(cat build/criterion.rc); if [ "$$rc" != 0 ]; then \
	  echo "failed (the whole output is in build/criterion.log):" >&2; \
	  grep -E '^\[(FAIL|----)\]' build/criterion.log >&2; \
	  grep -E '^\[====\] Synthesis' build/criterion.log >&2; exit $$rc; fi
	$(check_sanitizers)
endef
# make unit is the quick loop: the unit tests built without sanitizers against the release
# objects. Criterion runs each test in a process of its own, and an ASan process takes about
# 0.1 s to start, which made this a minute; make test (and make unit-san) runs them under
# ASan/UBSan too.
build/plain/tests/%.o: tests/%.c build/pkg.mk build/.deps-test
	@mkdir -p $(@D)
	$(CC) $(OPT) $(CFLAGS_ALL) -Itests -c $< -o $@
build/plain/tests/libsupport.a: $(SUPP_SRC:tests/%.c=build/plain/tests/%.o) build/plain/tests/harness.o
	$(AR) rcs $@ $^
build/plain/tests/unit-tests: $(UNIT_SRC:tests/%.c=build/plain/tests/%.o) build/plain/tests/libsupport.a build/libas.a
	$(CC) $(OPT) -o $@ $^ $(LIBS) -lcriterion
unit: build/plain/tests/unit-tests
	AS_FIXTURES=tests/fixtures build/plain/tests/unit-tests --jobs 2 $(TEST_ARGS)
unit-san: build/asan/tests/unit-tests
	$(call run_criterion,build/asan/tests/unit-tests)
integration: $(INTEG_DEPS) build/asan/tests/integration-tests
	$(call run_criterion,build/asan/tests/integration-tests)
all-tests: $(INTEG_DEPS) build/asan/tests/run-tests
	$(call run_criterion,build/asan/tests/run-tests)
browser-test: all
	@if [ -f tests/browser/run ]; then tests/browser/run; else echo "no browser test yet"; fi
node-test: all
	tests/node/run
# The official Elasticsearch clients against the ASan build of the server (its reports fail the run).
client-test: $(INTEG_DEPS)
	@mkdir -p build/san
	$(TEST_ENV) tests/clients/run
	$(check_sanitizers)
test: all-tests browser-test node-test client-test

# Work on one module while others are in flux: make one T=timefmt MODS=timefmt [H=1] builds
# tests/{unit,integration}/test_$(T).c (+ tests/harness.c with H=1, and the store fixture for the
# store tests) against just those modules and runs it; without MODS, against every module
# (make one T=store).
ONE_SRC = $(wildcard tests/unit/test_$(T).c tests/integration/test_$(T).c) \
          $(if $(filter store% pagebatch feedstatus,$(T)),tests/store_fixture.c)
ONE_MODS = $(if $(MODS),$(MODS:%=src/%.c),build/asan/libas.a)
one: build/pkg.mk build/.deps-test $(if $(MODS),,build/asan/libas.a)
	@mkdir -p build/asan
	$(CC) $(SAN) $(CFLAGS_ALL) -Itests -o build/asan/one-$(T) $(ONE_SRC) $(if $(H),tests/harness.c tests/loadclient.c) \
	    $(ONE_MODS) $(LIBS) -lcriterion
	@rm -rf build/san && mkdir -p build/san
	$(TEST_ENV) build/asan/one-$(T) $(TEST_ARGS)
	$(check_sanitizers)

# Benchmarks: release objects, one program per tests/bench/*.c (tests/bench/bench.h is their
# shared header), each linked with the test support it needs (tests/harness.c, the load client
# tests/loadclient.c, JWTs from tests/jwtmint.c, the loopback rate tests/netrate.c) built with
# the same flags; run in order.
BENCH_SUPP := build/bench/harness.o build/bench/loadclient.o build/bench/jwtmint.o build/bench/netrate.o
build/bench/%.o: tests/bench/%.c build/pkg.mk
	@mkdir -p $(@D)
	$(CC) $(OPT) $(CFLAGS_ALL) -Itests -c $< -o $@
$(BENCH_SUPP): build/bench/%.o: tests/%.c build/pkg.mk
	@mkdir -p $(@D)
	$(CC) $(OPT) $(CFLAGS_ALL) -Itests -c $< -o $@
build/bench/%: build/bench/%.o $(BENCH_SUPP) build/libas.a
	$(CC) $(OPT) -o $@ $^ $(LIBS)
bench: all $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

fuzz:
	@if [ -f tests/fuzz/run ]; then tests/fuzz/run; else echo "no fuzz target yet"; fi

run: all
	@conf/run-demo

cluster: all
	@conf/run-cluster

clean:
	rm -rf build bin

-include $(wildcard build/*.d build/asan/*.d build/asan/tests/*.d build/asan/tests/*/*.d build/plain/tests/*.d build/plain/tests/*/*.d build/feedsim/*.d build/bench/*.d)
