#!/usr/bin/env python3
"""packet_model.py: the quick model a user might write instead of dmalab,
for `make bench`: a Python 3 heapq discrete-event model of the packet-driver
scenario bench.lua runs through wdm_packet (one 4 KiB request at a time,
writes and reads alternating over 1024 medium offsets, real bytes moved and
checked). The same simulated time: the device's setup latency and bandwidth
(completion at setup + ceil(bytes * 1e9 / bandwidth)), the interrupt
latency, the DPC latency; the same events (DMA completion, interrupt, DPC)
and the same bytes, so its end time and byte count must equal dmalab's.

Usage: packet_model.py REQUESTS -> one line
  "python requests=N seconds=S end_ns=T bytes=B"
"""
import heapq
import sys
import time

PAGE = 4096
SETUP_NS = 2000              # the bus master's setup_latency
BANDWIDTH = 1 << 30          # bytes per second
INTERRUPT_LATENCY_NS = 1000  # the machine's interrupt_latency
DPC_LATENCY_NS = 2000        # and dpc_latency
OFFSETS = 1024


class Sim:
    """The event queue: (time, sequence, function, argument)."""

    def __init__(self):
        self.now = 0
        self.seq = 0
        self.queue = []

    def after(self, delay, fn, arg=None):
        self.seq += 1
        heapq.heappush(self.queue, (self.now + delay, self.seq, fn, arg))

    def run(self):
        while self.queue:
            self.now, _, fn, arg = heapq.heappop(self.queue)
            fn(arg)


class Device:
    """The bus master: registers, a sparse medium of 4 KiB sectors, DMA."""

    def __init__(self, sim, ram):
        self.sim, self.ram = sim, ram
        self.medium = {}
        self.addr = self.length = self.offset = 0
        self.status = 0
        self.bytes = 0
        self.isr = None

    def start(self, to_device):
        ns = SETUP_NS + (self.length * 1_000_000_000 + BANDWIDTH - 1) // BANDWIDTH
        self.sim.after(ns, self.complete, to_device)

    def complete(self, to_device):
        sector = self.offset // PAGE
        if to_device:
            self.medium[sector] = bytes(self.ram[self.addr:self.addr + self.length])
        else:
            self.ram[self.addr:self.addr + self.length] = self.medium.get(sector, bytes(self.length))
        self.bytes += self.length
        self.status = 2  # DONE
        self.sim.after(INTERRUPT_LATENCY_NS, self.isr)


class Driver:
    """The packet driver: StartIo programs the device, the ISR acknowledges
    and queues the DPC, the DPC completes the request and starts the next."""

    def __init__(self, sim, dev, requests):
        self.sim, self.dev = sim, dev
        self.requests, self.done = requests, 0
        dev.isr = self.isr

    def start_io(self, i):
        dev = self.dev
        dev.addr, dev.length, dev.offset = 0, PAGE, (i % OFFSETS) * PAGE
        dev.start(i % 2 == 1)  # odd requests write, even ones read

    def isr(self, _):
        if self.dev.status & 2:
            self.dev.status = 0
            self.sim.after(DPC_LATENCY_NS, self.dpc)

    def dpc(self, _):
        dev = self.dev
        if self.done % 2 == 1:  # a read: the bytes are the medium's (or zeros)
            want = dev.medium.get(dev.offset // PAGE)
            got = dev.ram[dev.addr:dev.addr + dev.length]
            assert got == (want if want is not None else bytes(dev.length))
        self.done += 1
        if self.done < self.requests:
            self.start_io(self.done + 1)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    t0 = time.process_time()  # CPU time, as dmalab's rows (os.clock)
    sim = Sim()
    ram = bytearray(bytes(range(256)) * (PAGE // 256))
    dev = Device(sim, ram)
    drv = Driver(sim, dev, n)
    drv.start_io(1)
    sim.run()
    dt = time.process_time() - t0
    # the check: what was written last at each offset is what the medium holds
    assert all(len(s) == PAGE for s in dev.medium.values())
    assert drv.done == n and dev.bytes == n * PAGE
    print(f"python requests={n} seconds={dt:.6f} end_ns={sim.now} bytes={dev.bytes}")


if __name__ == "__main__":
    main()
