"""Benchmark of the OTP core against pyotp and a pure-Python floor (not a test).

Run: ``.venv/bin/python benchmarks/otp_core.py [--repeats N] [--algorithm SHA256]``.

Every operation is timed side by side in one run, interleaved (each repeat times the
implementations of an operation back to back, in a shuffled order, so drifts of the
machine hit all of them alike); the table gives the median of the repeats in
nanoseconds per operation, and ratios as medians of the per-repeat ratios.

The floor is the fastest HMAC computation we know how to write in CPython, doing the
same number of HMACs as the operation and nothing else: inner and outer hash states
that absorbed the padded key once, copied per HMAC (about twice as fast as
``hmac.digest``, shown for reference), with the messages packed in advance. No
truncation, no input check, no comparison: a real verification cannot be faster.
The "bare RFC loop" adds only what every code needs (packing the counter, dynamic
truncation, a constant-time compare): the gap between it and the floor is the price
of RFC 4226 itself in CPython; the gap between otpgate and it, that of our checks.

pyotp's ``verify`` stops at the first matching step; ours computes the whole window.
Nothing here fails on a slow machine: it prints numbers and ratios only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import platform
import random
import ssl
import statistics
import struct
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp

from otpgate.otp import Algorithm, Totp, b32encode

KEY = bytes(range(1, 21))  # 160 bits, the default secret size
NOW = 1_700_000_015
SAMPLE_SECONDS = 0.001  # length of one timed sample
TARGET = 1.25

Op = Callable[[], object]


@dataclass(frozen=True)
class Row:
    """One operation measured for each implementation."""

    name: str
    hmacs: int
    ours: Op
    theirs: Op
    floor: Op
    bare: Op
    stdlib: Op


def pad_states(key: bytes, algorithm: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The copy methods of the hash states that absorbed the padded key (RFC 2104)."""
    factory = getattr(hashlib, algorithm.lower())
    block = factory().block_size
    if len(key) > block:
        key = factory(key).digest()
    padded = key.ljust(block, b"\0")
    inner = factory(padded.translate(bytes(b ^ 0x36 for b in range(256))))
    outer = factory(padded.translate(bytes(b ^ 0x5C for b in range(256))))
    return inner.copy, outer.copy


def floor_hmacs(key: bytes, algorithm: str, counters: range) -> Op:
    """The fastest pure-Python code computing HMAC(key, counter) for each counter."""
    inner_copy, outer_copy = pad_states(key, algorithm)
    messages = tuple(struct.pack(">Q", c) for c in counters)

    def run() -> None:
        for message in messages:
            i = inner_copy()
            i.update(message)
            o = outer_copy()
            o.update(i.digest())
            o.digest()

    return run


def bare_loop(key: bytes, algorithm: str, counters: range, verify: bool) -> Op:
    """The floor plus what any RFC 4226 code needs: counter packing, dynamic truncation,
    and (verify) a constant-time compare per candidate or (generate) the decimal string.
    No input checks, no parameter handling: the least a faithful implementation does."""
    inner_copy, outer_copy = pad_states(key, algorithm)
    pack, unpack = struct.Struct(">Q").pack, struct.Struct(">I").unpack_from
    equal, target, first, last = hmac.compare_digest, bytes(5), counters[0], counters[-1]
    fmt = "%06d"  # what _core uses: faster than an f-string

    def run() -> object:
        found = -1
        for counter in range(first, last + 1):
            i = inner_copy()
            i.update(pack(counter))
            o = outer_copy()
            o.update(i.digest())
            mac = o.digest()
            value = (unpack(mac, mac[-1] & 0x0F)[0] & 0x7FFFFFFF) % 1_000_000
            if not verify:
                return fmt % value
            if equal(value.to_bytes(5), target):
                found = counter
        return found

    return run


def stdlib_hmacs(key: bytes, algorithm: str, counters: range) -> Op:
    """The same HMACs through the standard library's one-shot ``hmac.digest``."""
    digest = algorithm.lower()
    messages = tuple(struct.pack(">Q", c) for c in counters)

    def run() -> None:
        for message in messages:
            hmac.digest(key, message, digest)

    return run


def build_rows(algorithm: Algorithm) -> list[Row]:
    """The operations of the table, each with its four implementations."""
    ours = Totp(KEY, algorithm=algorithm)
    theirs = pyotp.TOTP(b32encode(KEY), digest=getattr(hashlib, algorithm.lower()))
    # pyotp's verify is typed for a datetime (an int would cost it one more conversion).
    when = dt.datetime.fromtimestamp(NOW, dt.UTC)
    step = ours.step(NOW)
    hit = ours.generate_at(NOW)
    window = {ours.generate_step(s) for s in range(step - 1, step + 2)}
    miss = next(c for c in (f"{n:06d}" for n in range(10**6)) if c not in window)
    assert theirs.at(NOW) == hit

    def refs(n: int, verify: bool = True) -> tuple[Op, Op, Op]:
        counters = range(step - n // 2, step - n // 2 + n)
        return (floor_hmacs(KEY, algorithm, counters),
                bare_loop(KEY, algorithm, counters, verify),
                stdlib_hmacs(KEY, algorithm, counters))

    return [
        Row("generate", 1, lambda: ours.generate_at(NOW), lambda: theirs.at(NOW),
            *refs(1, verify=False)),
        Row("verify window 0, hit", 1, lambda: ours.match(hit, NOW, behind=0, ahead=0),
            lambda: theirs.verify(hit, when, valid_window=0), *refs(1)),
        Row("verify window 0, miss", 1, lambda: ours.match(miss, NOW, behind=0, ahead=0),
            lambda: theirs.verify(miss, when, valid_window=0), *refs(1)),
        Row("verify +-1, hit", 3, lambda: ours.match(hit, NOW),
            lambda: theirs.verify(hit, when, valid_window=1), *refs(3)),
        Row("verify +-1, miss", 3, lambda: ours.match(miss, NOW),
            lambda: theirs.verify(miss, when, valid_window=1), *refs(3)),
    ]


def calibrate(op: Op) -> int:
    """How many calls make one sample of about SAMPLE_SECONDS."""
    number = 1
    while True:
        elapsed = timeit.timeit(op, number=number)
        if elapsed >= SAMPLE_SECONDS / 4:
            return max(1, int(number * SAMPLE_SECONDS / elapsed))
        number *= 4


Samples = dict[tuple[str, str], list[float]]
IMPLS = ("ours", "theirs", "floor", "bare", "stdlib")


def measure(rows: list[Row], repeats: int) -> Samples:
    """ns/op samples of every (row, implementation).

    In each repeat the four implementations of a row are timed back to back in a
    shuffled order, so that sample i of each is taken under the same machine load; the
    ratios below are medians of these per-repeat ratios, which a busy machine disturbs
    much less than the absolute times.
    """
    ops = {(row.name, impl): getattr(row, impl) for row in rows for impl in IMPLS}
    numbers = {key: calibrate(op) for key, op in ops.items()}
    samples: Samples = {key: [] for key in ops}
    shuffle = random.Random(2024).shuffle
    for _ in range(repeats):
        for row in rows:
            order = [(row.name, impl) for impl in IMPLS]
            shuffle(order)
            for key in order:
                elapsed = timeit.timeit(ops[key], number=numbers[key])
                samples[key].append(elapsed / numbers[key] * 1e9)
    return samples


def ratio(samples: Samples, name: str, top: str, bottom: str) -> float:
    """Median over the repeats of the ratio of two implementations' paired samples."""
    pairs = zip(samples[name, top], samples[name, bottom], strict=True)
    return statistics.median(a / b for a, b in pairs)


def report(rows: list[Row], samples: Samples, algorithm: str, repeats: int) -> str:
    """The results as a Markdown table with a one-line verdict on the target."""
    ns = {key: statistics.median(values) for key, values in samples.items()}
    lines = [
        f"OTP core, {algorithm}, 6 digits, 30 s step, 160-bit key; median of {repeats} "
        f"repeats, ns/op",
        f"Python {platform.python_version()}, {ssl.OPENSSL_VERSION}, {platform.machine()}",
        "",
        "| operation | HMACs | otpgate | pyotp | floor | bare RFC loop | hmac.digest "
        "| pyotp / otpgate | otpgate / floor | bare / floor |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.hmacs} | {ns[row.name, 'ours']:,.0f} "
            f"| {ns[row.name, 'theirs']:,.0f} | {ns[row.name, 'floor']:,.0f} "
            f"| {ns[row.name, 'bare']:,.0f} | {ns[row.name, 'stdlib']:,.0f} "
            f"| {ratio(samples, row.name, 'theirs', 'ours'):.1f}x "
            f"| {ratio(samples, row.name, 'ours', 'floor'):.2f}x "
            f"| {ratio(samples, row.name, 'bare', 'floor'):.2f}x |"
        )
    worst = max(ratio(samples, name, "ours", "floor")
                for name in ("verify +-1, hit", "verify +-1, miss"))
    verdict = "met" if worst <= TARGET else "NOT met"
    lines += ["", f"target: verify +-1 within {TARGET}x of the floor: {verdict} "
              f"(worst {worst:.2f}x)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=51, help="samples per measurement")
    parser.add_argument("--algorithm", choices=("SHA1", "SHA256", "SHA512"), default="SHA1")
    args = parser.parse_args(argv)
    algorithm: Algorithm = args.algorithm
    rows = build_rows(algorithm)
    print(report(rows, measure(rows, args.repeats), algorithm, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
