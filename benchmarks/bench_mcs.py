"""MCS throughput as a ratio to a plain matrix product of the same shape, and the peak memory of the chunked
MCS for the 24576 x 24576 features, d = 768 case (which must stay under 2 GiB).

    .venv/bin/python benchmarks/bench_mcs.py          # ratios at two shapes, memory at 24576 x 24576 x 768
    .venv/bin/python benchmarks/bench_mcs.py --quick  # seconds: small shapes, memory at 4096 x 4096 x 768

Every number printed comes from this one run. On a shared machine the absolute times are inflated; the ratios
(both timed back to back in the same process) are the portable part.
"""

import argparse
import multiprocessing
import time

import torch

from saelib.metrics.mcs import max_cosine_similarity, random_dictionary

MEMORY_LIMIT_GIB = 2.0


def best_time(fn, repeats: int) -> float:
    """Fastest of `repeats` wall-clock runs of `fn()` (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def throughput_ratio(n_a: int, n_b: int, d: int, repeats: int) -> tuple[float, float]:
    """Seconds of A @ B.T and of max_cosine_similarity(A, B) for random A [n_a, d] and B [n_b, d]."""
    a, b = random_dictionary(n_a, d, seed=0), random_dictionary(n_b, d, seed=1)
    matmul = best_time(lambda: a @ b.T, repeats)
    mcs = best_time(lambda: max_cosine_similarity(a, b), repeats)
    return matmul, mcs


def _status_kib(field: str) -> int:
    """A memory field (VmRSS, VmHWM) of this process from /proc, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak_memory_child(n: int, d: int, queue: "multiprocessing.Queue[tuple[float, float]]") -> None:
    """In a fresh process: resident memory with the inputs built, and peak resident memory after the MCS."""
    a, b = random_dictionary(n, d, seed=0), random_dictionary(n, d, seed=1)
    before = _status_kib("VmRSS")
    max_cosine_similarity(a, b)
    queue.put((before / 2**20, _status_kib("VmHWM") / 2**20))


def peak_memory_gib(n: int, d: int) -> tuple[float, float]:
    """(resident GiB with the inputs, peak resident GiB) of a fresh process computing the MCS of n x n x d."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_peak_memory_child, args=(n, d, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, a few seconds")
    args = parser.parse_args()
    shapes = [(1024, 8192, 128), (2048, 2048, 768)] if args.quick else [(1024, 8192, 128), (8192, 8192, 768)]
    memory_n = 4096 if args.quick else 24576
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'shape (n_A x n_B x d)':>24} {'matmul s':>9} {'MCS s':>9} {'MCS / matmul':>13}")
    for n_a, n_b, d in shapes:
        matmul, mcs = throughput_ratio(n_a, n_b, d, repeats=3)
        print(f"{f'{n_a} x {n_b} x {d}':>24} {matmul:9.3f} {mcs:9.3f} {mcs / matmul:13.2f}")
    inputs, peak = peak_memory_gib(memory_n, 768)
    verdict = "within" if peak < MEMORY_LIMIT_GIB else "OVER"
    print(f"peak memory, MCS of {memory_n} x {memory_n} x 768: {peak:.2f} GiB resident "
          f"({inputs:.2f} GiB with just the inputs built): {verdict} the {MEMORY_LIMIT_GIB:g} GiB limit")


if __name__ == "__main__":
    main()
