# dmalab: a C11 engine (core/), its Lua 5.4 module (bindings/) and the dmalab
# REPL/batch runner (repl/). `make` builds; `make demo` and `make test` also
# install missing Debian packages when run as root (see README.md).

BUILD   ?= build
BINDIR  ?= bin
CC      ?= cc
SANITIZE ?=

LUA_PC  := lua5.4
DEB_BUILD_PKGS := build-essential pkg-config liblua5.4-dev libreadline-dev libsqlite3-dev
DEB_TEST_PKGS  := lua5.4 libcmocka-dev lua-busted lua-check valgrind libxml2-utils lua-cjson \
                  parallel gnuplot-nox gtkwave
DEB_DEMO_PKGS  := lua5.4
# The API fuzzer (make fuzz, make fuzz-smoke): clang with libFuzzer's runtime.
DEB_FUZZ_PKGS  := clang libclang-rt-14-dev

# Where `make install` puts things (DESTDIR is prepended): the Lua module
# and dmalab's Lua modules on Lua 5.4's default paths for that prefix.
PREFIX     ?= /usr/local
INSTALL_BINDIR ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
LUA_CMOD   ?= $(PREFIX)/lib/lua/5.4
LUA_LMOD   ?= $(PREFIX)/share/lua/5.4

HAVE_PC := $(shell pkg-config --exists $(LUA_PC) readline sqlite3 2>/dev/null && echo yes)
ifeq ($(HAVE_PC),yes)
LUA_CFLAGS := $(shell pkg-config --cflags $(LUA_PC))
LUA_LIBS   := $(shell pkg-config --libs $(LUA_PC))
RL_CFLAGS  := $(shell pkg-config --cflags readline)
RL_LIBS    := $(shell pkg-config --libs readline)
SQL_CFLAGS := $(shell pkg-config --cflags sqlite3)
SQL_LIBS   := $(shell pkg-config --libs sqlite3)
endif

WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 $(WARN) -D_POSIX_C_SOURCE=200809L -fPIC -MMD -MP -Icore
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
# The fuzzer's build (clang): coverage for libFuzzer, ASan and UBSan.
ifneq ($(FUZZ),)
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

# core/ and bindings/ are grouped by layer: one folder a layer (see README).
CORE_SRC := $(wildcard core/*/*.c)
BIND_SRC := $(wildcard bindings/*.c bindings/*/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
BIND_OBJ := $(BIND_SRC:%.c=$(BUILD)/%.o)
REPL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard repl/*.c))
CTEST_SRC := $(wildcard tests/c/test_*.c)
CTEST_BIN := $(CTEST_SRC:tests/c/%.c=$(BUILD)/tests/%)

LIB  := $(BUILD)/libdmacore.a
SO   := $(BUILD)/dma.so
EXE  := $(BINDIR)/dmalab

.PHONY: all check-deps deps test-deps demo-deps fuzz-deps demo test test-asan check-c check-lua lint \
        fuzz fuzz-smoke fuzz-build fuzz-merge \
        valgrind bench install uninstall readme-api clean

all: check-deps $(LIB) $(SO) $(EXE)

# One line naming the packages when Lua 5.4 or readline is missing.
check-deps:
ifneq ($(HAVE_PC),yes)
	$(error missing Lua 5.4, readline or SQLite development files: apt-get install -y $(DEB_BUILD_PKGS))
endif

# Installs what a fresh Debian 12 lacks (as root), or says what to install.
deps:
	@sh tests/ensure-packages.sh $(DEB_BUILD_PKGS)
test-deps:
	@sh tests/ensure-packages.sh $(DEB_BUILD_PKGS) $(DEB_TEST_PKGS)
demo-deps:
	@sh tests/ensure-packages.sh $(DEB_BUILD_PKGS) $(DEB_DEMO_PKGS)
fuzz-deps:
	@sh tests/ensure-packages.sh $(DEB_BUILD_PKGS) $(DEB_FUZZ_PKGS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) -c $< -o $@

# The lab's Lua half (sweeps, stores, plots) is compiled into the module.
$(BUILD)/gen/lab_lua.h: bindings/lab/lab.lua
	@mkdir -p $(dir $@)
	{ echo 'static const unsigned char lab_lua[] = {'; od -An -v -tx1 $< | \
	  sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '};'; \
	  echo 'static const size_t lab_lua_len = sizeof lab_lua;'; } > $@

$(BUILD)/bindings/lab/lab.o: bindings/lab/lab.c $(BUILD)/gen/lab_lua.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) $(SQL_CFLAGS) -I$(BUILD)/gen -c $< -o $@

# Every core allocation goes through base/dl_alloc.h's counting wrappers
# (objects built before the wrapper existed are rebuilt).
$(CORE_OBJ): core/base/dl_alloc.h
$(BUILD)/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -include base/dl_alloc.h -c $< -o $@

$(BUILD)/repl/%.o: repl/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) $(RL_CFLAGS) -c $< -o $@

$(LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The module does not link liblua: lua5.4 exports the API to what it loads.
$(SO): $(BIND_OBJ) $(LIB)
	$(CC) -shared $(LDFLAGS) -o $@ $(BIND_OBJ) $(LIB) $(SQL_LIBS)

$(EXE): $(REPL_OBJ) $(BIND_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(REPL_OBJ) $(BIND_OBJ) $(LIB) $(LUA_LIBS) $(RL_LIBS) $(SQL_LIBS) -lm

$(BUILD)/tests/%: tests/c/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -D_DEFAULT_SOURCE $< -o $@ $(LDFLAGS) $(LIB) -lcmocka -lutil -lm

# The demo also installs lua5.4 (README's stock-Lua line runs after it).
demo: demo-deps
	@$(MAKE) --no-print-directory all
	$(EXE) scripts/demo.lua

test: test-deps
	@$(MAKE) --no-print-directory all $(CTEST_BIN)
	@sh tests/run.sh $(BUILD) $(EXE)

# The same tests built with AddressSanitizer and UBSan.
test-asan: test-deps
	@$(MAKE) --no-print-directory BUILD=build/asan BINDIR=build/asan/bin SANITIZE=1 \
	    build/asan/libdmacore.a build/asan/dma.so build/asan/bin/dmalab \
	    $(CTEST_SRC:tests/c/%.c=build/asan/tests/%)
	@SANITIZE=1 sh tests/run.sh build/asan build/asan/bin/dmalab

# The API fuzzer (tests/fuzz/): libFuzzer over the module and the engine,
# built by clang with ASan and UBSan into its own tree. `make fuzz` runs it
# for FUZZ_TIME seconds on FUZZ_JOBS workers (libFuzzer's fork mode; 1: in
# process), keeping what it finds in build-fuzz/corpus; `make fuzz-smoke`
# is CI's bounded run from the seeds.
FUZZ_BIN  := build-fuzz/fuzz/fuzz_api
FUZZ_TIME ?= 600
FUZZ_JOBS ?= 2
FUZZ_OPTS := -max_len=2048 -len_control=20 -timeout=30 -rss_limit_mb=2048 -print_final_stats=1

$(BUILD)/gen/fuzz_driver_lua.h: tests/fuzz/driver.lua
	@mkdir -p $(dir $@)
	{ echo 'static const unsigned char fuzz_driver_lua[] = {'; od -An -v -tx1 $< | \
	  sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '};'; \
	  echo 'static const size_t fuzz_driver_lua_len = sizeof fuzz_driver_lua;'; } > $@

$(BUILD)/fuzz/fuzz_api: tests/fuzz/fuzz_api.c $(BUILD)/gen/fuzz_driver_lua.h $(BIND_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LUA_CFLAGS) -Ibindings -I$(BUILD)/gen -fsanitize=fuzzer $< -o $@ \
	    $(BIND_OBJ) $(LIB) $(LUA_LIBS) $(SQL_LIBS) -lm

fuzz-build: fuzz-deps
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang FUZZ=1 $(FUZZ_BIN)

fuzz: fuzz-build
	@mkdir -p build-fuzz/corpus build-fuzz/crashes
	$(FUZZ_BIN) build-fuzz/corpus tests/fuzz/corpus tests/fuzz/merged $(FUZZ_OPTS) \
	    $(if $(filter 1,$(FUZZ_JOBS)),,-fork=$(FUZZ_JOBS)) -max_total_time=$(FUZZ_TIME) \
	    -artifact_prefix=build-fuzz/crashes/

# Replaces tests/fuzz/merged with the fewest inputs of build-fuzz/corpus and
# the present set that reach every edge they reach (libFuzzer -merge=1 on
# edges alone): the corpus CI's smoke starts from and make test replays.
fuzz-merge: fuzz-build
	rm -rf build-fuzz/merged && mkdir -p build-fuzz/merged
	$(FUZZ_BIN) -merge=1 -use_counters=0 -use_cmp=0 -use_value_profile=0 -max_len=2048 -timeout=30 \
	    build-fuzz/merged tests/fuzz/merged build-fuzz/corpus
	rm -rf tests/fuzz/merged && mv build-fuzz/merged tests/fuzz/merged

fuzz-smoke: fuzz-build
	@sh tests/fuzz/smoke.sh $(FUZZ_BIN) tests/fuzz/corpus

# Runs the demo and every scenario script under valgrind's leak checker.
valgrind: all
	@sh tests/valgrind.sh $(EXE)

# Host-speed figures (not run by CI): one table from one run (tests/bench/).
BENCH_RING := $(BUILD)/bench/ring

$(BENCH_RING): tests/bench/ring.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -D_DEFAULT_SOURCE $< -o $@ $(LDFLAGS) $(LIB) -lm

bench: all $(BENCH_RING)
	$(EXE) tests/bench/bench.lua $(BENCH_RING)
	sh tests/bench/whatif_bench.sh $(EXE)

# As a Debian package would lay it out: `make install PREFIX=/usr DESTDIR=...`.
install: all
	install -D -m 755 $(EXE) $(DESTDIR)$(INSTALL_BINDIR)/dmalab
	install -D -m 644 $(SO) $(DESTDIR)$(LUA_CMOD)/dma.so
	install -d $(DESTDIR)$(LUA_LMOD)/dma/drivers/pcidrv
	install -m 644 repl/lua/*.lua $(DESTDIR)$(LUA_LMOD)/dma/
	install -m 644 scripts/drivers/*.lua $(DESTDIR)$(LUA_LMOD)/dma/drivers/
	install -m 644 scripts/drivers/pcidrv/*.lua $(DESTDIR)$(LUA_LMOD)/dma/drivers/pcidrv/
	install -D -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libdmacore.a
	for h in core/*/*.h; do install -D -m 644 $$h $(DESTDIR)$(INCLUDEDIR)/dmacore/$${h#core/}; done
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: dmacore\nDescription: %s\nVersion: %s\nCflags: -I$${includedir}/dmacore\nLibs: -L$${libdir} -ldmacore -lm\n' \
	    '$(PREFIX)' '$(LIBDIR)' '$(INCLUDEDIR)' 'the dmalab engine: the Windows DMA model in C11' '0.1.0' \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/dmacore.pc
	install -D -m 644 man/dmalab.1 $(DESTDIR)$(MANDIR)/man1/dmalab.1

uninstall:
	rm -f $(DESTDIR)$(INSTALL_BINDIR)/dmalab $(DESTDIR)$(LUA_CMOD)/dma.so \
	    $(DESTDIR)$(LIBDIR)/libdmacore.a $(DESTDIR)$(LIBDIR)/pkgconfig/dmacore.pc \
	    $(DESTDIR)$(MANDIR)/man1/dmalab.1
	rm -rf $(DESTDIR)$(LUA_LMOD)/dma $(DESTDIR)$(INCLUDEDIR)/dmacore

# Regenerates README.md's API reference from the help table (repl/lua/help.lua).
readme-api: all
	$(EXE) tests/readme_api.lua --write

clean:
	rm -rf build bin build-fuzz

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(REPL_OBJ:.o=.d)
