# qmail-smtpd (Rust, with realrcptto): build, test, demo, install.
#
#   make                 build the release binaries (cargo build --release)
#   make test            the whole test suite (what .ci/run calls)
#   make demo            one SMTP session against a throw-away qmail home
#   make bench           benchmarks: figures, floors and ratios
#   make install         install into $(DESTDIR)$(PREFIX), default /var/qmail
#   make clean
#
# make install keeps the qmail-smtpd it replaces as bin/qmail-smtpd.netqmail
# (once: an existing backup is never overwritten; a different foreign
# binary found later goes to bin/qmail-smtpd.netqmail.DATE). See README.md.

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
BINS     = qmail-smtpd qmail-smtpd-tls qmail-realrcptto qmail-vpopmail-sql
MANPAGES = man/qmail-smtpd.8 man/qmail-realrcptto.8
# A string only our qmail-smtpd contains (its HELP reply): tells our binary
# from the one it replaces.
OURS_MARKER = qmail-smtpd (Rust, with realrcptto)

.PHONY: all build test check-man demo bench install clean

all: build

build:
	$(CARGO) build --release

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

# Built by "make" if missing, so "make && sudo make install" does not need
# cargo in root's PATH.
$(BINS:%=$(RELEASE)/%):
	$(CARGO) build --release

# The new binary goes in under a temporary name and is renamed over the old
# one, so tcpserver never finds bin/qmail-smtpd missing or half-written.
# Owner root:$(QMAILGROUP) when run as root and the group exists (as qmail
# installs its binaries), else root, else (a DESTDIR build by a normal
# user) whoever runs make.
install: $(BINS:%=$(RELEASE)/%)
	@set -e; \
	bindir='$(DESTDIR)$(BINDIR)'; man8='$(DESTDIR)$(MANDIR)/man8'; \
	mkdir -p "$$bindir" "$$man8"; \
	owner=; \
	if [ "$$(id -u)" = 0 ]; then \
	  if getent group '$(QMAILGROUP)' >/dev/null 2>&1; then owner='root:$(QMAILGROUP)'; else owner=root; fi; \
	fi; \
	old="$$bindir/qmail-smtpd"; backup="$$bindir/qmail-smtpd.netqmail"; \
	if [ -f "$$old" ] && ! grep -qaF '$(OURS_MARKER)' "$$old"; then \
	  if [ -e "$$backup" ]; then \
	    if ! cmp -s "$$old" "$$backup"; then \
	      extra="$$backup.$$(date +%Y%m%d%H%M%S)"; cp -p "$$old" "$$extra"; \
	      echo "$$backup already exists (kept as is); saved the qmail-smtpd being replaced as $$extra"; \
	    fi; \
	  else \
	    cp -p "$$old" "$$backup"; \
	    echo "saved the qmail-smtpd being replaced as $$backup"; \
	  fi; \
	fi; \
	for b in $(BINS); do \
	  install -m 755 '$(RELEASE)'/"$$b" "$$bindir/.$$b.new"; \
	  if [ -n "$$owner" ]; then chown "$$owner" "$$bindir/.$$b.new"; fi; \
	  mv -f "$$bindir/.$$b.new" "$$bindir/$$b"; \
	  echo "installed $$bindir/$$b"; \
	done; \
	for m in $(MANPAGES); do \
	  install -m 644 "$$m" "$$man8/"; \
	  echo "installed $$man8/$${m##*/}"; \
	done

clean:
	$(CARGO) clean
	rm -rf target/demo
