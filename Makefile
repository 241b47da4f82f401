# wasp - the WebAssembly Service Platform.
#
#   make            build build/wasp (release: -O2 with debug info)
#   make test       install what is missing, build, run every test (also under ASan+UBSan)
#   make run        install what is missing, build, run the examples and serve the HTTP ones on :8080
#   make bench      run the benchmarks (bench/)
#   make fuzz       run each fuzz target (decoder, engine, WAGI output, SQL parameters, WASI, request framing, ingest lines, traceparent and metrics text, log lines, compiled-code loader, native tier against interpreter) for FUZZ_SECONDS (default 60)
#   make lint       clang-format check and cppcheck
#   make clean      remove build/
#
# Output goes under build/. Sanitized objects go under build/asan/.

CC        ?= gcc
CLANG     ?= clang-14
CSTD      := -std=c11 -D_GNU_SOURCE
WARN      := -Wall -Wextra -Wshadow -Wno-unused-parameter
CFLAGS    ?= -O2 -g -fno-strict-aliasing
# LLVM's C headers only: libLLVM is loaded with dlopen when something must be compiled
# (src/wasm/jit_llvm.c, docs/design/native.md section 8)
INCLUDES  := -Isrc -I/usr/include/postgresql -I/usr/lib/llvm-19/include
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
WASM_TESTSUITE ?= ../shared/wasm-testsuite
FUZZ_SECONDS ?= 60

B := build
# build/wasp's stubs for the libraries it opens with dlopen (DLOPEN_LIBS):
# not in libwasp.a, whose other users link those libraries themselves.
STUB_SRC  := src/util/dynlib_stubs.c
LIB_SRC   := $(sort $(filter-out $(STUB_SRC),$(wildcard src/util/*.c src/wasm/*.c src/wasi/*.c src/host/*.c src/server/*.c src/pipe/*.c)))
CLI_SRC   := $(sort $(wildcard src/cli/*.c))
# The server's libraries (docs/design/http.md): h2o's event-loop flavour
# for HTTP/1.1, libyaml for manifests; the capabilities' (src/host/):
# SQLite and hiredis for key-value stores, libpq for PostgreSQL, libcurl
# for outbound HTTP, libsodium for secrets and the native code cache.
# build/wasp links only WASP_LIBS: DLOPEN_LIBS (with the ~35 libraries they
# bring) cost about 20 ms at every start, so wasp opens them when serving
# starts (src/util/dynlib.c); a function of theirs newly called in src/ is
# added to src/util/dynlib.h, or build/wasp's link fails. libsodium stays
# linked: `wasp run --tier native` needs it for the cache's SHA-256. The
# tests, fuzz targets and benchmarks link them all (SRV_LIBS).
DLOPEN_LIBS := -lh2o-evloop -lyaml -lsqlite3 -lhiredis -lpq -lcurl
WASP_LIBS := -lsodium -lpthread
SRV_LIBS  := $(DLOPEN_LIBS) $(WASP_LIBS)
UNIT_SRC  := $(sort $(wildcard tests/unit/*.c))
SPEC_SRC  := $(sort $(wildcard tests/spec/*.c))
HDRS      := $(wildcard src/*/*.h tests/*/*.h)

LIB_OBJ      := $(LIB_SRC:%.c=$(B)/obj/%.o)
LIB_OBJ_ASAN := $(LIB_SRC:%.c=$(B)/asan/%.o)

.PHONY: all test run bench bench-pipe bench-http fuzz lint clean setup unit spec cli-test wasi-test serve-test pipe-test deploy-test asan-test examples
all: $(B)/wasp

setup:
	@bash scripts/setup.sh

$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(INCLUDES) -c $< -o $@

# The native tier's helpers that raise traps read their compiled caller's
# frame pointer where their own frame saved it (jit_run.c).
$(B)/obj/src/wasm/jit_run.o: CFLAGS += -fno-omit-frame-pointer

$(B)/asan/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(CSTD) $(WARN) $(ASAN_FLAGS) $(INCLUDES) -c $< -o $@

$(B)/libwasp.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/asan/libwasp.a: $(LIB_OBJ_ASAN)
	@rm -f $@
	ar rcs $@ $^

$(B)/wasp: $(CLI_SRC:%.c=$(B)/obj/%.o) $(STUB_SRC:%.c=$(B)/obj/%.o) $(B)/libwasp.a
	$(CC) $(CFLAGS) -o $@ $^ $(WASP_LIBS) -lm

$(B)/unit_tests: $(UNIT_SRC:%.c=$(B)/obj/%.o) $(B)/libwasp.a
	$(CC) $(CFLAGS) -o $@ $^ $(SRV_LIBS) -lm

$(B)/spec_runner: $(SPEC_SRC:%.c=$(B)/obj/%.o) $(B)/libwasp.a
	$(CC) $(CFLAGS) -o $@ $^ -ljansson -lm

# Instance creation+reset micro-benchmark (bench/instance.c), run by bench-http.
$(B)/bench_instance: bench/instance.c $(B)/libwasp.a $(HDRS)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(INCLUDES) -o $@ bench/instance.c $(B)/libwasp.a $(SRV_LIBS) -lm

# Fiber switch, start and memory micro-benchmark (bench/fiber.c), run by bench-http.
$(B)/bench_fiber: bench/fiber.c $(B)/libwasp.a $(HDRS)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(INCLUDES) -o $@ bench/fiber.c $(B)/libwasp.a $(SRV_LIBS) -lm

$(B)/asan/wasp: $(CLI_SRC:%.c=$(B)/asan/%.o) $(STUB_SRC:%.c=$(B)/asan/%.o) $(B)/asan/libwasp.a
	$(CLANG) $(ASAN_FLAGS) -o $@ $^ $(WASP_LIBS) -lm

$(B)/asan/unit_tests: $(UNIT_SRC:%.c=$(B)/asan/%.o) $(B)/asan/libwasp.a
	$(CLANG) $(ASAN_FLAGS) -o $@ $^ $(SRV_LIBS) -lm

$(B)/asan/spec_runner: $(SPEC_SRC:%.c=$(B)/asan/%.o) $(B)/asan/libwasp.a
	$(CLANG) $(ASAN_FLAGS) -o $@ $^ -ljansson -lm

$(B)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC) $(HDRS)
	@mkdir -p $(B)
	$(CLANG) $(CSTD) $(WARN) $(FUZZ_FLAGS) $(INCLUDES) -o $@ $< $(LIB_SRC) $(SRV_LIBS) -lm

# fuzz_diff makes its modules with tests/fuzz/gen_module.c
$(B)/fuzz_diff: tests/fuzz/fuzz_diff.c tests/fuzz/gen_module.c $(LIB_SRC) $(HDRS)
	@mkdir -p $(B)
	$(CLANG) $(CSTD) $(WARN) $(FUZZ_FLAGS) $(INCLUDES) -o $@ $< tests/fuzz/gen_module.c \
	  $(LIB_SRC) $(SRV_LIBS) -lm

# Example modules are built next to their source (examples/NAME.wasm, not
# tracked by git), so that `wasp run examples/hello.wasm` works as the docs
# say: text-format ones through wabt's wat2wasm, C ones through clang-14 for
# wasm32-wasi with Debian's wasi-libc. C is compiled at -O2 but linked at
# -O0, because clang's driver runs binaryen's wasm-opt on -O2 links when it
# finds one, and the output must not depend on whether binaryen is installed.
EXAMPLES_WAT := $(sort $(wildcard examples/*.wat))
EXAMPLES_C   := $(sort $(wildcard examples/*.c))
EXAMPLES_RS  := $(sort $(wildcard examples/*.rs))
EXAMPLES     := $(EXAMPLES_WAT:.wat=.wasm) $(EXAMPLES_C:.c=.wasm) $(EXAMPLES_RS:.rs=.wasm)
WASI_CC      := clang-14 --target=wasm32-wasi --sysroot=/usr
examples/%.wasm: examples/%.wat
	wat2wasm $< -o $@
examples/%.wasm: examples/%.c
	$(WASI_CC) -O2 -c -o $(@:.wasm=.o) $<
	$(WASI_CC) -O0 -Wl,--strip-debug -o $@ $(@:.wasm=.o)
	@rm -f $(@:.wasm=.o)
examples/%.wasm: examples/%.rs
	/usr/bin/rustc --target wasm32-wasi -O -C strip=symbols -o $@ $<

# HTTP handlers served by `wasp serve` (examples/serve/, docs/abi.md):
# the wasp-ABI ones use the post-MVP instructions wasp runs (clang-14
# targets the MVP by default): sign extension, bulk memory and
# non-trapping float-to-int make the parsing code about 10% faster.
# wagi-*.c are WASI commands (WAGI); the other C files are reactors that
# export wasp_handle and include sdk/c/wasp.h; *.rs are WAGI commands.
WASM_FEATURES := -msign-ext -mbulk-memory -mnontrapping-fptoint
SERVE_C      := $(sort $(wildcard examples/serve/*.c examples/notes/*.c))
SERVE_RS     := $(sort $(wildcard examples/serve/*.rs))
EXAMPLES     += $(SERVE_C:.c=.wasm) $(SERVE_RS:.rs=.wasm)
examples/serve/wagi-%.wasm: examples/serve/wagi-%.c
	$(WASI_CC) -O2 -c -o $(@:.wasm=.o) $<
	$(WASI_CC) -O0 -Wl,--strip-debug -o $@ $(@:.wasm=.o)
	@rm -f $(@:.wasm=.o)
examples/serve/%.wasm: examples/serve/%.c sdk/c/wasp.h
	$(WASI_CC) -O2 $(WASM_FEATURES) -Isdk/c -c -o $(@:.wasm=.o) $<
	$(WASI_CC) -O0 -mexec-model=reactor -Wl,--strip-debug -o $@ $(@:.wasm=.o)
	@rm -f $(@:.wasm=.o)
examples/notes/%.wasm: examples/notes/%.c sdk/c/wasp.h
	$(WASI_CC) -O2 $(WASM_FEATURES) -Isdk/c -c -o $(@:.wasm=.o) $<
	$(WASI_CC) -O0 -mexec-model=reactor -Wl,--strip-debug -o $@ $(@:.wasm=.o)
	@rm -f $(@:.wasm=.o)
# `wasp pipe` filters (docs/design/pipe.md): reactors on sdk/c/wasp_filter.h.
PIPE_C       := $(sort $(wildcard examples/pipe/*.c))
EXAMPLES     += $(PIPE_C:.c=.wasm)
examples/pipe/%.wasm: examples/pipe/%.c sdk/c/wasp.h sdk/c/wasp_filter.h
	$(WASI_CC) -O2 $(WASM_FEATURES) -Isdk/c -c -o $(@:.wasm=.o) $<
	$(WASI_CC) -O0 -mexec-model=reactor -Wl,--strip-debug -o $@ $(@:.wasm=.o)
	@rm -f $(@:.wasm=.o)
PIPE_RS      := $(sort $(wildcard examples/pipe/*.rs))
EXAMPLES     += $(PIPE_RS:.rs=.wasm)
examples/pipe/%.wasm: examples/pipe/%.rs
	/usr/bin/rustc --target wasm32-wasi -O -C strip=symbols --crate-type cdylib -o $@ $<
examples/serve/%.wasm: examples/serve/%.rs
	/usr/bin/rustc --target wasm32-wasi -O -C strip=symbols -o $@ $<
examples: $(EXAMPLES)

unit: $(B)/unit_tests
	$(B)/unit_tests

# Both tiers: the interpreter, then the native tier (issue 12; its line
# counts the commands on modules it does not compile yet as not run).
spec: $(B)/spec_runner
	$(B)/spec_runner --testsuite $(WASM_TESTSUITE)
	$(B)/spec_runner --testsuite $(WASM_TESTSUITE) --tier native

cli-test: $(B)/wasp $(EXAMPLES)
	bash tests/cli/run.sh $(B)/wasp

wasi-test: $(B)/wasp $(EXAMPLES)
	bash tests/wasi/run.sh $(B)/wasp

# End-to-end tests of `wasp serve` over real HTTP on loopback (tests/serve/),
# in each tier: the second run starts every server with --tier native.
serve-test: $(B)/wasp $(EXAMPLES)
	bash tests/serve/run.sh $(B)/wasp
	WASP_TEST_TIER=native bash tests/serve/run.sh $(B)/wasp

# deploy/: the Kubernetes objects against the Kubernetes schema, and the
# container image built with podman and its root filesystem run (tests/deploy/).
deploy-test: $(B)/wasp $(EXAMPLES)
	bash tests/deploy/run.sh
	bash tests/deploy/container.sh $(B)/wasp

# `wasp pipe` end to end (tests/pipe/): the example filters and hand-made
# failing ones, from files and stdin, in each tier.
pipe-test: $(B)/wasp $(EXAMPLES)
	bash tests/pipe/run.sh $(B)/wasp
	WASP_TEST_TIER=native bash tests/pipe/run.sh $(B)/wasp

asan-test: $(B)/asan/unit_tests $(B)/asan/spec_runner $(B)/asan/wasp
	$(B)/asan/unit_tests
	$(B)/asan/spec_runner --testsuite $(WASM_TESTSUITE)
	@# LeakSanitizer's tracer crashes at exit (signal 11 in its own code, 2 scripts
	@# of a full run) while it walks the dynamic TLS blocks of the dlopen'ed
	@# libLLVM; with __tls_get_addr not intercepted it scans static TLS only
	@# (wasp's own thread-locals) and leaks are still reported. The serve tests'
	@# interpreter pass loads it too (tier auto's background compile), and the
	@# CLI tests' native runs (one module of them, every time).
	ASAN_OPTIONS=intercept_tls_get_addr=0 $(B)/asan/spec_runner --testsuite $(WASM_TESTSUITE) --tier native
	ASAN_OPTIONS=intercept_tls_get_addr=0 bash tests/cli/run.sh $(B)/asan/wasp
	bash tests/wasi/run.sh $(B)/asan/wasp
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ASAN_OPTIONS=intercept_tls_get_addr=0 \
	  bash tests/serve/run.sh $(B)/asan/wasp
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ASAN_OPTIONS=intercept_tls_get_addr=0 \
	  WASP_TEST_TIER=native bash tests/serve/run.sh $(B)/asan/wasp
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ASAN_OPTIONS=intercept_tls_get_addr=0 \
	  bash tests/pipe/run.sh $(B)/asan/wasp
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ASAN_OPTIONS=intercept_tls_get_addr=0 \
	  WASP_TEST_TIER=native bash tests/pipe/run.sh $(B)/asan/wasp

# Every test, then the same under AddressSanitizer + UndefinedBehaviorSanitizer.
test: setup
	$(MAKE) --no-print-directory all $(B)/unit_tests $(B)/spec_runner examples
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory cli-test
	$(MAKE) --no-print-directory wasi-test
	$(MAKE) --no-print-directory serve-test
	$(MAKE) --no-print-directory pipe-test
	$(MAKE) --no-print-directory deploy-test
	$(MAKE) --no-print-directory spec
	$(MAKE) --no-print-directory asan-test

# Builds everything, shows the engine and `wasp run` on the examples, then
# serves the HTTP examples (examples/serve/wasp.yaml) on 127.0.0.1:8080,
# admin on 127.0.0.1:9090, until Ctrl-C. LISTEN/ADMIN override the addresses.
LISTEN ?= 127.0.0.1:8080
ADMIN  ?= 127.0.0.1:9090
run: setup
	$(MAKE) --no-print-directory all examples
	@for m in $(EXAMPLES); do $(B)/wasp validate $$m >/dev/null || exit 1; done
	@echo "== wasp run examples/hello.wasm"
	@$(B)/wasp run examples/hello.wasm
	@echo "== wasp run --invoke fib_iterative examples/fib.wasm 50"
	@$(B)/wasp run --invoke fib_iterative examples/fib.wasm 50
	@echo "== wasp pipe --from examples/pipe/access.log access2json.wasm keep5xx.wasm redact.wasm"
	@$(B)/wasp pipe --from examples/pipe/access.log examples/pipe/access2json.wasm \
	  examples/pipe/keep5xx.wasm examples/pipe/redact.wasm
	@echo "== wasp serve examples/serve/wasp.yaml (Ctrl-C stops it). Try:"
	@echo "   curl http://$(LISTEN)/hello"
	@echo "   curl -d '{\"numbers\":[1,2,3.5],\"op\":\"mean\"}' http://$(LISTEN)/json"
	@echo "   curl 'http://$(LISTEN)/wagi/anything?x=1'"
	@echo "   curl -d 'some body' http://$(LISTEN)/rust/echo"
	@echo "   curl -d 'buy milk' http://$(LISTEN)/notes/ ; curl http://$(LISTEN)/notes/1"
	@echo "   curl -d 'write docs' http://$(LISTEN)/todos/ ; curl http://$(LISTEN)/todos/"
	@echo "   curl 'http://$(LISTEN)/fetch?url=http://$(ADMIN)/healthz'"
	@echo "   curl --data-binary @examples/pipe/access.log http://$(LISTEN)/pipelines/access"
	@echo "      (the pipeline's output: examples/serve/access-errors.ndjson)"
	@echo "   curl http://$(ADMIN)/metrics"
	@exec $(B)/wasp serve --listen $(LISTEN) --admin $(ADMIN) examples/serve/wasp.yaml

# Runs each fuzz target (decode+validate, the whole engine, the WAGI output
# parser, a guest's SQL parameters, the WASI host functions, the request
# framing reader, the native tier's object loader, the native tier against
# the interpreter) for FUZZ_SECONDS; findings land in build/fuzz-artifacts/.
# fuzz_diff's inputs are choices, not modules: its seeds are 16 random
# inputs, made once; it loads libLLVM, whose dynamic TLS LeakSanitizer must
# not walk (see asan-test), and has 10 s per input rather than 1: LLVM
# compiles a module in 50-100 ms, but up to a second under ASan's allocator.
FUZZ_TARGETS ?= decode exec cgi sqlparams wasi framing lines trace log jit_load diff
fuzz: setup $(FUZZ_TARGETS:%=$(B)/fuzz_%)
	@mkdir -p $(B)/fuzz-artifacts $(B)/fuzz-seeds-jit_load $(B)/fuzz-seeds-diff
	@[ -n "$$(ls -A $(B)/fuzz-seeds-diff)" ] || for i in $$(seq 16); do \
	  head -c 1536 /dev/urandom > $(B)/fuzz-seeds-diff/random-$$i; done
	bash tests/fuzz/seed.sh $(WASM_TESTSUITE) $(B)/fuzz-seeds
	$(CLANG) -c -O2 -mcmodel=small -fPIC -fno-stack-protector -o $(B)/fuzz-seeds-jit_load/seed.o \
	  tests/fuzz/jit_seed.c
	$(CLANG) -c -O2 -mcmodel=large -fno-pic -fno-stack-protector \
	  -o $(B)/fuzz-seeds-jit_load/seed-large.o tests/fuzz/jit_seed.c
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(B)/fuzz-corpus-$$t; \
	  seeds=$(B)/fuzz-seeds; [ -d $(B)/fuzz-seeds-$$t ] && seeds=$(B)/fuzz-seeds-$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  asan=$${ASAN_OPTIONS:-}; limit=1; \
	  if [ $$t = diff ]; then asan=$${asan:+$$asan:}intercept_tls_get_addr=0; limit=10; fi; \
	  ASAN_OPTIONS=$$asan UBSAN_OPTIONS=halt_on_error=1 $(B)/fuzz_$$t \
	    -max_total_time=$(FUZZ_SECONDS) -timeout=$$limit \
	    -rss_limit_mb=2048 -artifact_prefix=$(B)/fuzz-artifacts/ -print_final_stats=1 \
	    $(B)/fuzz-corpus-$$t $$seeds || exit 1; \
	done

# The benchmark suite (bench/README.md): bench/run.sh builds the programs
# as wasm32-wasi commands and natively, checks that native, `wasp run` and
# node agree, times them with hyperfine and writes bench/RESULTS.md.
bench: setup
	$(MAKE) --no-print-directory $(B)/wasp
	bash bench/run.sh $(B)/bench $(B)/wasp

# Pipelines (bench/pipe/run.sh): 1,000,000 NDJSON records through wasp pipe
# (both tiers), jq, Node.js and native C; writes its section of RESULTS.md.
bench-pipe: setup
	$(MAKE) --no-print-directory $(B)/wasp
	bash bench/pipe/run.sh $(B)/wasp

# HTTP serving (bench/http/serve.sh): wasp (wasp ABI, WAGI, json) against a
# Node.js cluster and a native h2o server, with wrk; then the capabilities
# (bench/http/caps.sh): a kv read and an SQL query on both backends of each.
# Each writes its own section of bench/RESULTS.md.
bench-http: setup
	$(MAKE) --no-print-directory $(B)/wasp $(B)/bench_instance $(B)/bench_fiber examples
	bash bench/http/serve.sh $(B)/wasp
	bash bench/http/caps.sh $(B)/wasp
	bash bench/http/waits.sh $(B)/wasp

lint:
	clang-format --dry-run --Werror $(LIB_SRC) $(STUB_SRC) $(CLI_SRC) $(UNIT_SRC) $(SPEC_SRC) $(wildcard src/*/*.h)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
	  --suppress=assignBoolToPointer:src/wasm/interp.c \
	  --suppress=preprocessorErrorDirective:src/wasm/fiber.c -Isrc src tests

clean:
	rm -rf $(B) $(EXAMPLES)
