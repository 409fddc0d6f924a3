# consentd — one plain Makefile. Targets: all run check unit e2e bench fuzz format lint clean.
# SAN=address,undefined builds with clang and sanitizers into build-san/.

CC       ?= cc
SAN      ?=
WERROR   ?= -Werror
PKGS     := libsodium lmdb libcjson inih liburiparser libh2o-evloop libssl libcrypto libcurl
BUILD    := build
ifneq ($(SAN),)
CC       := clang
BUILD    := build-san
SANFLAGS := -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wmissing-declarations -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wvla \
	-Wundef -Wnull-dereference -Wimplicit-fallthrough -Wswitch-enum
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
WARN += -Wduplicated-cond -Wduplicated-branches -Wlogical-op
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DH2O_USE_LIBUV=0 -Iinclude \
	$(PKG_CFLAGS) $(WARN) $(WERROR) $(SANFLAGS) -MMD -MP -pthread
LDLIBS  += $(PKG_LIBS) -pthread $(SANFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC  := $(wildcard crypto/*.c) $(filter-out service/consentd.c service/consentctl.c, \
	$(wildcard service/*.c)) $(wildcard policies/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)
BINS     := $(BUILD)/consentd $(BUILD)/consentctl
CHECK    := $(BUILD)/check_main
# Test-only binaries: consentd with its CRASHPOINT hooks compiled in (include/consentd/
# crashpoint.h), and logtool. Only the files that use the hooks are compiled a second time,
# into $(BUILD)/hooks/, and linked ahead of the library, so the archive's copies of them are
# never pulled in and build/consentd is built exactly as before.
HOOK_SRC := service/consentd.c service/sequencer.c service/ckpt.c service/tlog.c
HOOK_OBJ := $(HOOK_SRC:%.c=$(BUILD)/hooks/%.o)
TOOLS    := $(BUILD)/consentd-hooks $(BUILD)/logtool

.PHONY: all deps run check unit e2e bench fuzz format format-check lint clean
all: deps $(BINS) $(CHECK) $(TOOLS)

deps:
	$(Q)bash .ci/deps

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/hooks/%.o: %.c
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -DCONSENTD_TEST_HOOKS -c -o $@ $<

$(BUILD)/libconsentd.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/consentd: $(BUILD)/service/consentd.o $(BUILD)/libconsentd.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/consentctl: $(BUILD)/service/consentctl.o $(BUILD)/libconsentd.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/consentd-hooks: $(HOOK_OBJ) $(BUILD)/libconsentd.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/logtool: $(BUILD)/tests/tools/logtool.o $(BUILD)/libconsentd.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(CHECK): $(TEST_OBJ) $(BUILD)/libconsentd.a
	@[ "$(V)" = 1 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs check)

# Unit tests run from the repository root so they find ../shared/vectors and policies/.
unit: all
	$(Q)$(CHECK)

e2e: all
	$(Q)cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	$(Q)BUILD=$(BUILD) bash tests/e2e/run.sh

check: format-check unit e2e

run: all
	$(Q)[ -d var/demo ] || { mkdir -p var && ./$(BUILD)/consentd init --data var/demo && \
		echo "(copy the admin token now: it is shown once and only its hash is kept)"; }
	$(Q)./$(BUILD)/consentd serve --data var/demo --listen 127.0.0.1:8080 \
		--policy policies/default.json

bench: all
	$(Q)BUILD=$(BUILD) bash tests/bench/run.sh

format:
	$(Q)clang-format -i $(wildcard include/consentd/*.h crypto/*.c service/*.c policies/*.c tests/*.c tests/*.h tests/fuzz/*.c tests/tools/*.c)

format-check: deps
	$(Q)clang-format --dry-run --Werror $(wildcard include/consentd/*.h crypto/*.c service/*.c policies/*.c tests/*.c tests/*.h tests/fuzz/*.c tests/tools/*.c)

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/service/consentd.d $(BUILD)/service/consentctl.d
-include $(HOOK_OBJ:.o=.d) $(BUILD)/tests/tools/logtool.d
