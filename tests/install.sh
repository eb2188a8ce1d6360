#!/bin/sh
# tests/install.sh: `make install` into a DESTDIR (PREFIX=/usr, as a Debian
# package), then from another directory: require "dma" and
# "dma.drivers.wdm_packet" (and the pcidrv/ port) in stock lua5.4, help() and `dmalab test` in the
# installed dmalab, a C program built against libdmacore through
# pkg-config, the man page; then `make uninstall` leaves nothing behind.
# Prints "ok - ..." / "not ok - ..." lines.
root=$(pwd)
dest=$(mktemp -d)
work=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$dest" "$work" "$log"' EXIT

check() {  # check NAME COMMAND...: runs it, says ok or shows its output
  name=$1; shift
  if "$@" >"$log" 2>&1; then echo "ok - install: $name"; else cat "$log"; echo "not ok - install: $name"; fi
}

check "make install DESTDIR PREFIX=/usr" make --no-print-directory -s install DESTDIR="$dest" PREFIX=/usr
LMOD="$dest/usr/share/lua/5.4"
CMOD="$dest/usr/lib/lua/5.4"
export LUA_PATH="$LMOD/?.lua;;" LUA_CPATH="$CMOD/?.so;;"
cd "$work" || exit 1
check "require dma and dma.drivers.wdm_packet in lua5.4 from elsewhere" lua5.4 -e '
  local dma = require "dma"
  dma.export()
  local drv = require "dma.drivers.wdm_packet"
  assert(type(drv.DriverEntry) == "function" and package.searchpath("dma.drivers.wdm_packet", package.path)
         :find(os.getenv("LUA_PATH"):match("^[^?]*"), 1, true))
  assert(type(require("dma.drivers.pcidrv.pcidrv").DriverEntry) == "function")'
check "installed dmalab: help and a copied driver script" sh -c '
  "$0/usr/bin/dmalab" -e "help(IoGetDmaAdapter)" | grep -q "IRQL: PASSIVE_LEVEL" &&
  printf "local plx = require \"dma.drivers.plx_model\"\nassert(plx.R)\n" > copied.lua &&
  "$0/usr/bin/dmalab" copied.lua' "$dest"
cp "$root/tests/suite/pass_scenario.lua" "$work/"
check "installed dmalab test" "$dest/usr/bin/dmalab" test "$work"
cat > "$work/core.c" <<'C'
#include "machine/dl_machine.h"
int main(void) {
  dl_machine_config cfg;
  dl_machine *m;
  dl_machine_config_init(&cfg);
  if (dl_machine_new(&cfg, &m) != 0) return 1;
  dl_machine_free(m);
  return 0;
}
C
check "a C program against libdmacore via pkg-config" sh -c '
  PKG_CONFIG_PATH="$0/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$0" &&
  export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR &&
  cc -std=c11 core.c $(pkg-config --cflags dmacore) -L"$0/usr/lib" -ldmacore -lm -o core && ./core' "$dest"
check "man page dmalab.1" grep -q '^\.TH DMALAB 1' "$dest/usr/share/man/man1/dmalab.1"
cd "$root" || exit 1
check "make uninstall leaves no file" sh -c '
  make --no-print-directory -s uninstall DESTDIR="$0" PREFIX=/usr && test -z "$(find "$0" -type f)"' "$dest"
