# unetmap — GNU make build. No configure step.
#   make            library, tools, tests (build/)
#   make check      tests, then the ASan+UBSan suite, then the TSan concurrent tests
#   make bench      benchmarks (table + plot)
#   make demo       pkt-gen tx -> pipe -> pkt-gen rx
#   make install PREFIX=/usr/local
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2 -g
# the data path (sync, pipe) is built with -O3 so its slot loops vectorise
HOT_OPT ?= -O3
SAN     ?=
WARN    := -Wall -Wextra -Werror
CSTD    := -std=gnu11
CPPFLAGS := -Iinclude -Isrc -D_GNU_SOURCE
CFLAGS  := $(CSTD) $(OPT) $(WARN) $(SAN) -pthread
LDLIBS  := -pthread -ldl

LIB_SRCS := $(wildcard src/core/*.c src/ports/*.c src/ctl/*.c src/shim/*.c src/lib/*.c src/nic/*.c)
# the BPF programs of NIC ports (bpf/unetmap.bpf.c), compiled by clang for
# the BPF target whatever CC is, and embedded in the library (src/nic/bpf_obj.S)
BPF_CC   ?= clang
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
BPF_OBJ  := $(BUILD)/obj/bpf/unetmap.bpf.o
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/src/nic/bpf_obj.o
NIC_LIBS := -lxdp -lbpf
LIB      := $(BUILD)/lib/libunetmap.so

TOOL_NAMES := $(notdir $(patsubst %/,%,$(wildcard tools/*/)))
TOOLS      := $(TOOL_NAMES:%=$(BUILD)/bin/%)

TEST_SRCS := $(wildcard tests/unit/*.c tests/functional/*.c)
TESTS     := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
# netmap clients built as for kernel netmap: NOT linked with libunetmap
COMPAT    := $(patsubst tests/clients/%.c,$(BUILD)/clients/%,$(wildcard tests/clients/*.c)) \
	     $(BUILD)/clients/pkt-gen-libc

RPATH := -Wl,-rpath,'$$ORIGIN/../lib' -Wl,-rpath,'$$ORIGIN/../../lib'

.PHONY: all lib tools tests check check-plain check-asan check-tsan bench demo install clean
all: lib tools tests

lib: $(LIB)
tools: $(TOOLS)
tests: $(TESTS) $(COMPAT)

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h include/net/*.h src/*/*.h src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/obj/src/ports/%.o $(BUILD)/obj/src/core/sync.o: CFLAGS += $(HOT_OPT)

$(BPF_OBJ): bpf/unetmap.bpf.c
	@mkdir -p $(dir $@)
	$(BPF_CC) -O2 -g -target bpf -Wall -Wextra -Werror $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH)) \
	    -c $< -o $@

$(BUILD)/obj/src/nic/bpf_obj.o: src/nic/bpf_obj.S $(BPF_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -c -DUNM_BPF_OBJ='"$(BPF_OBJ)"' $< -o $@

$(LIB): $(LIB_OBJS) src/libunetmap.map
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -Wl,--version-script=src/libunetmap.map -Wl,-soname,libunetmap.so.1 \
	    -o $@ $(LIB_OBJS) $(LDLIBS) $(NIC_LIBS)
	ln -sf libunetmap.so $(BUILD)/lib/libunetmap.so.1

# every tools/NAME/ directory is one program made of its .c files
.SECONDEXPANSION:
$(BUILD)/bin/%: $$(wildcard tools/%/*.c tools/%/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) -L$(BUILD)/lib -lunetmap $(RPATH) $(LDLIBS) -lm

$(BUILD)/tests/%: tests/%.c tests/testlib.h tests/nmtest.h tests/valetest.h tests/montest.h tests/vnettest.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -o $@ $< -L$(BUILD)/lib -lunetmap $(RPATH) $(LDLIBS) -lm

# NIC tests (tests/functional/nic_*.c) reach the library's internal
# interfaces (src/nic/*.h): they are linked with its objects, not -lunetmap
NIC_TEST_HDRS := tests/testlib.h $(wildcard tests/nictest.h tests/kobjtest.h)
$(BUILD)/tests/functional/nic_%: tests/functional/nic_%.c $(NIC_TEST_HDRS) $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS) $(NIC_LIBS) -lm

# pkt-gen as upstream builds it: libnetmap compiled in, only libc imported
$(BUILD)/clients/pkt-gen-libc: $(wildcard tools/pkt-gen/*.c tools/pkt-gen/*.h src/lib/*.c src/lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) -lm

$(BUILD)/clients/%: tests/clients/%.c
	@mkdir -p $(dir $@)
	$(CC) -Iinclude $(CFLAGS) -o $@ $<

check: check-plain check-asan check-tsan check-clang

SCRIPT_TESTS := $(wildcard tests/scripts/*.sh)

check-plain: all
	BUILD=$(BUILD) tests/run.sh $(TESTS) $(SCRIPT_TESTS:%=./%)

check-asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" HOT_OPT= \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" all
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    BUILD=build-asan tests/run.sh $(patsubst $(BUILD)/%,build-asan/%,$(TESTS))

TSAN_TESTS := $(notdir $(basename $(wildcard tests/functional/mt_*.c)))
check-tsan:
	$(MAKE) BUILD=build-tsan OPT="-O1 -g" HOT_OPT= SAN="-fsanitize=thread" lib \
	    $(TSAN_TESTS:%=build-tsan/tests/functional/%)
	BUILD=build-tsan tests/run.sh $(TSAN_TESTS:%=build-tsan/tests/functional/%)

# everything must also build warning-free with clang
check-clang:
	@if command -v clang >/dev/null; then \
		$(MAKE) --no-print-directory BUILD=build-clang CC=clang all >build-clang.log 2>&1 \
		&& echo "PASS clang build (-Wall -Wextra -Werror)" && echo "1 passed, 0 failed, 0 skipped" \
		|| { tail -n 30 build-clang.log; echo "FAIL clang build"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }; \
	else echo "SKIP clang build: clang not installed"; echo "0 passed, 0 failed, 1 skipped"; fi

bench: all
	BUILD=$(BUILD) CC=$(CC) bench/run.sh
	@if [ "$$(id -u)" = 0 ]; then bench/tcpdump_bench.sh 3 3; \
	else echo "tcpdump rows skipped: need root (network namespaces, Debian source package)"; fi

demo: all
	scripts/demo.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/net $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libunetmap.so.1
	ln -sf libunetmap.so.1 $(DESTDIR)$(PREFIX)/lib/libunetmap.so
	install -m 644 include/net/*.h $(DESTDIR)$(PREFIX)/include/net/
	install -m 644 include/*.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' libunetmap.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libunetmap.pc

clean:
	rm -rf build build-asan build-tsan build-clang build-clang.log

# ---- VALE lookup plugins -------------------------------------------------
# every plugins/NAME.c is one shared object $(BUILD)/lib/unetmap-vale-N.so,
# N being NAME without a leading "vale_" (plugins/vale_vlan.c ->
# unetmap-vale-vlan.so), loadable with unetmap_vale_set_lookup() / vale-ctl -L
PLUGIN_SRCS := $(wildcard plugins/*.c)
PLUGINS     := $(foreach s,$(PLUGIN_SRCS),$(BUILD)/lib/unetmap-vale-$(patsubst vale_%,%,$(basename $(notdir $(s)))).so)

.PHONY: plugins
plugins: $(PLUGINS)
tests: plugins

define PLUGIN_RULE
$(BUILD)/lib/unetmap-vale-$(patsubst vale_%,%,$(basename $(notdir $(1)))).so: $(1) include/unetmap.h
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) -shared -fPIC -o $$@ $$<
endef
$(foreach s,$(PLUGIN_SRCS),$(eval $(call PLUGIN_RULE,$(s))))
# ---- end of VALE lookup plugins ------------------------------------------
