# qmail-smtpd (Rust, with realrcptto): build, test, demo, install.
#
#   make                 build the release binaries (cargo build --release)
#   make test            the whole test suite (what .ci/run calls)
#   make demo            one SMTP session against a throw-away qmail home
#   make bench           benchmarks: figures, floors and ratios
#   make fuzz            each cargo-fuzz target for FUZZ_SECONDS (60) (nightly)
#   make install         install into $(DESTDIR)$(PREFIX), default /var/qmail
#   make uninstall       put netqmail's qmail-smtpd and man page back
#   make clean
#
# PREFIX is also the qmail home compiled into the binaries (as qmail's
# conf-qmail is); $QMAILHOME overrides it at run time.
#
# make install keeps the qmail-smtpd it replaces as bin/qmail-smtpd.netqmail,
# and netqmail's man8/qmail-smtpd.8 as man8/qmail-smtpd.8.netqmail (once: an
# existing backup is never overwritten; a different foreign file found
# later goes to NAME.netqmail.DATE). See README.md.

CARGO   ?= cargo
PREFIX  ?= /var/qmail
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
# qmail's own layout: /var/qmail/man/man8.
MANDIR  ?= $(PREFIX)/man
# qmail installs its binaries 0755 root:qmail.
QMAILGROUP ?= qmail

TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
RELEASE  = $(TARGET_DIR)/release
BINS     = qmail-smtpd qmail-smtpd-tls qmail-smtpd-proxy qmail-realrcptto qmail-vpopmail-sql
# The binaries that carry the compiled-in qmail home (a `conf-qmail:HOME`
# line); qmail-vpopmail-sql is told its files by qmail-smtpd.
HOME_BINS = qmail-smtpd qmail-smtpd-tls qmail-smtpd-proxy qmail-realrcptto
MANPAGES = man/qmail-smtpd.8 man/qmail-realrcptto.8
# A string only our qmail-smtpd contains (its HELP reply): tells our binary
# from the one it replaces.
OURS_MARKER = qmail-smtpd (Rust, with realrcptto)
# The same for the man page: a section netqmail's qmail-smtpd(8) lacks.
MAN_MARKER = RECIPIENT CHECK

BIN_PATHS = $(BINS:%=$(RELEASE)/%)
# What the binaries are built from: when any is newer, make install builds
# again (git pull && sudo make install must not install the old build).
SOURCES = Cargo.toml Cargo.lock build.rs $(shell find src -name '*.rs' 2>/dev/null)

# The qmail home is compiled in through CONF_QMAIL (build.rs), passed only
# when it is not the default, so that cargo run by hand and cargo run by
# make agree and do not rebuild each other's work.
unexport CONF_QMAIL
CARGO_BUILD = $(if $(filter-out /var/qmail,$(PREFIX)),CONF_QMAIL='$(PREFIX)' )$(CARGO) build --release
# After a build, the binaries are newer than every source, even one cargo
# did not need (a test-only module): make then sees them up to date.
TOUCH_BINS = touch $(BIN_PATHS)

.PHONY: all build test check-man demo bench install uninstall clean fuzz

all: build

build:
	$(CARGO_BUILD)
	@$(TOUCH_BINS)

# Unit, integration, property and doc tests (not --all-targets: that would
# run the no_main server binary as a test harness); then any shell scripts
# under tests/ (executable tests/*.sh, e.g. tcpserver/swaks end-to-end
# runs), then a lint of the man pages when groff is there.
test:
	$(CARGO) test --release
	@set -e; for t in tests/*.sh; do \
	  if [ -x "$$t" ]; then echo "== $$t"; "$$t"; fi; \
	done
	@$(MAKE) --no-print-directory check-man

# groff -ww prints every warning; a clean page prints nothing.
check-man:
	@if command -v groff >/dev/null 2>&1; then \
	  out=$$(for m in $(MANPAGES); do groff -man -ww -z "$$m" 2>&1; done); \
	  if [ -n "$$out" ]; then echo "$$out"; exit 1; fi; \
	  echo "man pages: groff -man -ww clean"; \
	else \
	  echo "man pages: groff not installed, not checked"; \
	fi

demo:
	scripts/demo.sh

# Figures with floors and ratios (see README, Benchmarks). Set
# BENCH_C_SMTPD=/path/to/qmail-smtpd for a column measuring netqmail's.
bench:
	$(CARGO) bench --bench smtpd

# Built when missing or older than a source; "make && sudo make install"
# then does not need cargo in root's PATH.
$(BIN_PATHS): $(SOURCES)
	$(CARGO_BUILD)
	@$(TOUCH_BINS)

# The binaries must have been built for this PREFIX (the tagged line
# build.rs compiles in); if not, they are built again.
#
# The new binary goes in under a temporary name and is renamed over the old
# one, so tcpserver never finds bin/qmail-smtpd missing or half-written.
# Owner root:$(QMAILGROUP) when run as root and the group exists (as qmail
# installs its binaries and man pages), else root, else (a DESTDIR build by
# a normal user) whoever runs make.
#
# keep FILE MARKER: FILE, when there and not ours (no MARKER in it), is
# saved as FILE.netqmail, once; a different foreign FILE found later goes
# to FILE.netqmail.DATE.
install: $(BIN_PATHS)
	@set -e; \
	built_for() { for b in $(HOME_BINS); do grep -qaxF 'conf-qmail:$(PREFIX)' '$(RELEASE)'/"$$b" || return 1; done; }; \
	if ! built_for; then \
	  echo "the binaries were not built for $(PREFIX): building them again"; \
	  $(CARGO_BUILD); $(TOUCH_BINS); \
	  if ! built_for; then echo "error: $(RELEASE) is not built for qmail home $(PREFIX)" >&2; exit 1; fi; \
	fi; \
	bindir='$(DESTDIR)$(BINDIR)'; man8='$(DESTDIR)$(MANDIR)/man8'; \
	mkdir -p "$$bindir" "$$man8"; \
	owner=; \
	if [ "$$(id -u)" = 0 ]; then \
	  if getent group '$(QMAILGROUP)' >/dev/null 2>&1; then owner='root:$(QMAILGROUP)'; else owner=root; fi; \
	fi; \
	keep() { \
	  old=$$1; backup=$$1.netqmail; \
	  if [ -f "$$old" ] && ! grep -qaF "$$2" "$$old"; then \
	    if [ -e "$$backup" ]; then \
	      if ! cmp -s "$$old" "$$backup"; then \
	        extra="$$backup.$$(date +%Y%m%d%H%M%S)"; cp -p "$$old" "$$extra"; \
	        echo "$$backup already exists (kept as is); saved the $${old##*/} being replaced as $$extra"; \
	      fi; \
	    else \
	      cp -p "$$old" "$$backup"; \
	      echo "saved the $${old##*/} being replaced as $$backup"; \
	    fi; \
	  fi; \
	}; \
	keep "$$bindir/qmail-smtpd" '$(OURS_MARKER)'; \
	keep "$$man8/qmail-smtpd.8" '$(MAN_MARKER)'; \
	for b in $(BINS); do \
	  install -m 755 '$(RELEASE)'/"$$b" "$$bindir/.$$b.new"; \
	  if [ -n "$$owner" ]; then chown "$$owner" "$$bindir/.$$b.new"; fi; \
	  mv -f "$$bindir/.$$b.new" "$$bindir/$$b"; \
	  echo "installed $$bindir/$$b"; \
	done; \
	for m in $(MANPAGES); do \
	  n="$${m##*/}"; \
	  install -m 644 "$$m" "$$man8/.$$n.new"; \
	  if [ -n "$$owner" ]; then chown "$$owner" "$$man8/.$$n.new"; fi; \
	  mv -f "$$man8/.$$n.new" "$$man8/$$n"; \
	  echo "installed $$man8/$$n"; \
	done

# Puts netqmail's qmail-smtpd and qmail-smtpd.8 back from their .netqmail
# backups (renamed into place: no moment without a qmail-smtpd), and
# removes ours. A qmail-smtpd or page that is not ours (installed since)
# is left alone, and so is its backup. NAME.netqmail.DATE files are kept.
uninstall:
	@set -e; \
	bindir='$(DESTDIR)$(BINDIR)'; man8='$(DESTDIR)$(MANDIR)/man8'; \
	restore() { \
	  f=$$1; \
	  if [ -f "$$f" ] && ! grep -qaF "$$2" "$$f"; then \
	    echo "$$f is not ours: left alone"; \
	  elif [ -f "$$f.netqmail" ]; then \
	    mv -f "$$f.netqmail" "$$f"; echo "restored $$f from $$f.netqmail"; \
	  elif [ -f "$$f" ]; then \
	    rm -f "$$f"; echo "removed $$f (no netqmail backup to put back)"; \
	  fi; \
	}; \
	restore "$$bindir/qmail-smtpd" '$(OURS_MARKER)'; \
	restore "$$man8/qmail-smtpd.8" '$(MAN_MARKER)'; \
	for f in "$$bindir/qmail-smtpd-tls" "$$bindir/qmail-smtpd-proxy" "$$bindir/qmail-realrcptto" "$$bindir/qmail-vpopmail-sql" "$$man8/qmail-realrcptto.8"; do \
	  if [ -f "$$f" ]; then rm -f "$$f"; echo "removed $$f"; fi; \
	done

clean:
	$(CARGO) clean
	rm -rf target/demo

# Coverage-guided fuzzing (libFuzzer, through cargo-fuzz on the nightly
# toolchain; `cargo install cargo-fuzz` once). Each target in fuzz/ runs
# for FUZZ_SECONDS on its corpus under fuzz/corpus/; a crash leaves its
# input in fuzz/artifacts/ and fails the run. Not part of make test.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS  = session data addr dotqmail fd4 decision proxy auth
fuzz:
	@set -e; cd fuzz; for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t; \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
	  $(CARGO) +nightly fuzz run $$t corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -close_fd_mask=2; \
	done
