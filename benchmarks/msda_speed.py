"""mDA speed: reprlab's closed-form MDA.fit vs explicit corruption (m copies + least squares) vs
the bare linear-algebra floor.

One mDA layer (p = 0.5, λ = 1e-5, float64) on sparse bag-of-words-like data: ``n`` documents
over ``d`` words, word ``k`` drawn with Zipf probability ∝ 1/k, binarized (density about 1%,
seeded). Contenders, each producing the same ``W`` (``d × (d+1)``):

- ``reprlab MDA.fit (numpy)``: ``MDA(p=0.5, backend="numpy").fit(X)``, validation included:
  sparse ``S = X̄ᵀX̄``, then ``W = [D_q^{-1} | 0] + G (E[Q] + Λ)^{-1}`` with one Cholesky
  factorization + inverse (scipy / OpenBLAS ``potrf`` + ``potri``);
- ``reprlab MDA.fit (torch, cpu)``: the same with ``backend="torch", device="cpu"`` (MKL
  Cholesky + ``cholesky_solve``), the evidence for ``backend="auto"`` picking numpy on a CPU;
- ``explicit corruption, m=5 copies``: the standard denoising recipe done well: 5 masked copies
  of the sparse ``X`` stacked (``5n`` rows, each nonzero kept with probability 1-p, seeded),
  normal equations ``(X̃ᵀX̃ + mΛ) Wᵀ = X̃ᵀX_rep`` by sparse products, solved with a Cholesky
  factorization (torch/MKL ``cholesky`` + ``cholesky_solve``, the faster SPD solver here);
- ``floor: product + SPD solve (scipy)`` / ``(torch/MKL)``: the bare linear algebra of the
  marginalized problem, one sparse ``X̄ᵀX̄`` product, the elementwise scaling to ``E[Q]``/``E[P]``,
  and one Cholesky solve of the ``(d+1) × (d+1)`` system for ``d`` right-hand sides
  (``scipy.linalg.solve(assume_a="pos")``, and torch's MKL ``cholesky`` + ``cholesky_solve``).

Repetitions are interleaved (A B C D E A B C D E ...) after a discarded warm-up round; medians.
Headline: ``speedup_vs_explicit_copies`` = median(explicit) / median(reprlab numpy) (target >= 10)
and ``ratio_to_linear_algebra_floor`` = median(reprlab numpy) / min(median of the two floors)
(target <= 1.5). Rows also give ``max |W - W_floor|`` for each contender.

Run: ``python benchmarks/msda_speed.py [--quick]`` (quick: n = 2,000, d = 500, 2 reps).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

from _common import check_targets, command_line, interleaved, machine_info, median, print_table, write_result  # noqa: E402

NAME = "msda_speed"
P, REG, M_COPIES, SEED = 0.5, 1e-5, 5, 0
TARGETS = {"speedup_vs_explicit_copies": (">=", 10.0), "ratio_to_linear_algebra_floor": ("<=", 1.5)}


def bag_of_words(n: int, d: int, tokens: int, seed: int) -> sp.csr_matrix:
    """Binary ``n × d`` CSR: ``tokens`` draws per document from Zipf(1) over the ``d`` words."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, d + 1)
    words = rng.choice(d, size=n * tokens, p=zipf / zipf.sum())
    X = sp.csr_matrix((np.ones(n * tokens), (np.repeat(np.arange(n), tokens), words)), shape=(n, d))
    X.sum_duplicates()
    X.data[:] = 1.0
    return X


def with_bias(X) -> sp.csr_matrix:
    return sp.hstack([X, np.ones((X.shape[0], 1))], format="csr")


def moments(S: np.ndarray, p: float, reg: float, ridge_scale: float = 1.0):
    """``E[Q] + Λ`` (in place of ``S``) and ``E[P]ᵀ`` (``(d+1) × d``) from the full gram ``S``."""
    d = S.shape[0] - 1
    q = np.full(d + 1, 1.0 - p)
    q[d] = 1.0
    EPt = (S[:d] * q).T  # E[P]ᵀ: (d+1, d)
    diag = S.diagonal().copy()
    S *= np.outer(q, q)
    S[np.diag_indices(d + 1)] = q * diag
    S[np.arange(d), np.arange(d)] += reg * ridge_scale
    return S, EPt


def spd_solve_torch(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``A⁻¹ B`` by torch's (MKL) Cholesky factorization and ``cholesky_solve``."""
    L = torch.linalg.cholesky(torch.from_numpy(A))
    return torch.cholesky_solve(torch.from_numpy(np.ascontiguousarray(B)), L).numpy()


# ---------------------------------------------------------------------------------- contenders
def reprlab_fit(X, backend: str, out: dict, key: str):
    from reprlab import MDA

    def run():
        kw = {"device": "cpu"} if backend == "torch" else {}
        out[key] = MDA(p=P, reg=REG, backend=backend, **kw).fit(X).W_

    return run


def floor(X, solver: str, out: dict, key: str):
    def run():
        Xb = with_bias(X)
        S = (Xb.T @ Xb).toarray()  # the one product, (d+1, d+1)
        EQ, EPt = moments(S, P, REG)
        if solver == "scipy":
            Wt = scipy.linalg.solve(EQ, EPt, assume_a="pos", overwrite_a=True, overwrite_b=True, check_finite=False)
        else:
            Wt = spd_solve_torch(EQ, EPt)
        out[key] = Wt.T

    return run


def explicit_copies(X, out: dict, key: str):
    def run():
        rng = np.random.default_rng(SEED)
        copies = []
        for _ in range(M_COPIES):  # each nonzero kept with probability 1 - p
            C = X.copy()
            C.data *= rng.random(C.nnz) >= P
            C.eliminate_zeros()
            copies.append(C)
        Xt = with_bias(sp.vstack(copies, format="csr"))  # (m n, d+1), corrupted
        Xrep = sp.vstack([X] * M_COPIES, format="csr")  # (m n, d), clean targets
        G = (Xt.T @ Xt).toarray()  # (d+1, d+1)
        C = (Xt.T @ Xrep).toarray()  # (d+1, d) = Pᵀ
        d = X.shape[1]
        G[np.arange(d), np.arange(d)] += M_COPIES * REG  # the same ridge per copy
        out[key] = spd_solve_torch(G, C).T

    return run


# ---------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: n=2,000, d=500, 2 reps")
    ap.add_argument("--n", type=int, help="documents (default 20,000; quick: 2,000)")
    ap.add_argument("--d", type=int, help="vocabulary size (default 5,000; quick: 500)")
    ap.add_argument("--reps", type=int, help="timed repetitions (default 3; quick: 2)")
    ap.add_argument("--no-write", action="store_true", help="print the table only, write no JSON")
    args = ap.parse_args(argv)
    n = args.n or (2_000 if args.quick else 20_000)
    d = args.d or (500 if args.quick else 5_000)
    reps = args.reps or (2 if args.quick else 3)
    tokens = max(1, round(0.013 * d))  # about 1% density once repeated words collapse

    X = bag_of_words(n, d, tokens, SEED)
    density = X.nnz / (n * d)
    Ws: dict = {}
    contenders = {
        "reprlab MDA.fit (numpy)": reprlab_fit(X, "numpy", Ws, "ours"),
        "reprlab MDA.fit (torch, cpu)": reprlab_fit(X, "torch", Ws, "ours_torch"),
        f"explicit corruption, m={M_COPIES} copies": explicit_copies(X, Ws, "explicit"),
        "floor: product + SPD solve (scipy)": floor(X, "scipy", Ws, "floor_scipy"),
        "floor: product + SPD solve (torch/MKL)": floor(X, "torch", Ws, "floor_torch"),
    }
    keys = dict(zip(contenders, ["ours", "ours_torch", "explicit", "floor_scipy", "floor_torch"]))
    machine = machine_info()
    print(f"{NAME}: n={n}, d={d}, density {density:.4f}, p={P}, reg={REG}, float64; {reps} reps (+1 warm-up), "
          f"interleaved; {machine['cpu']}, {machine['cores']} cores, torch threads {torch.get_num_threads()}")
    t_start = time.perf_counter()
    times = interleaved(contenders, reps, warmup=1)
    total = time.perf_counter() - t_start

    med = {k: median(v) for k, v in times.items()}
    ours = med["reprlab MDA.fit (numpy)"]
    floor_key = min(("floor: product + SPD solve (scipy)", "floor: product + SPD solve (torch/MKL)"), key=med.get)
    W_ref = Ws[keys[floor_key]]
    rows = []
    for k, v in times.items():
        rows.append({
            "contender": k,
            "median_s": round(med[k], 3),
            "time_vs_reprlab": round(med[k] / ours, 3),
            "max_abs_diff_W_vs_floor": float(np.abs(Ws[keys[k]] - W_ref).max()),
            "rep_times_s": [round(t, 3) for t in v],
        })
    headline = {
        "speedup_vs_explicit_copies": round(med[f"explicit corruption, m={M_COPIES} copies"] / ours, 3),
        "ratio_to_linear_algebra_floor": round(ours / med[floor_key], 3),
    }
    print()
    print_table(rows, [("contender", "contender", ""), ("median_s", "median s", ".2f"),
                       ("time_vs_reprlab", "time / reprlab", ".3f"), ("max_abs_diff_W_vs_floor", "max|W - W_floor|", ".2e")])
    print()
    targets = check_targets(headline, TARGETS)
    print(f"floor used for the ratio: {floor_key}; total benchmark time {total:.0f} s")

    if not args.no_write:
        path = write_result(NAME, headline, rows, command_line(), extra={
            "targets": targets,
            "settings": {
                "n": n, "d": d, "density": round(density, 5), "tokens_per_doc": tokens,
                "data": "synthetic bag of words: Zipf(1) word draws, binarized, CSR, seed 0",
                "p": P, "reg": REG, "dtype": "float64", "explicit_copies": M_COPIES,
                "reprlab_backend": "numpy (scipy/OpenBLAS potrf + potri); auto picks numpy on a CPU",
                "floor_for_ratio": floor_key, "reps": reps, "warmup_reps": 1,
                "torch_threads": torch.get_num_threads(),
            },
        })
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
