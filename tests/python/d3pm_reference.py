"""EvoDiff's D3PM transition tables recomputed with numpy, independently of protmask's
Rust (src/d3pm.rs), from microsoft/evodiff's code: `evodiff/utils.py` (`_beta_schedule`,
`softmax`, `double_stochastic`, `Tokenizer.q_blosum`, `q_blosum_schedule`,
`q_random_schedule`, `cumprod_matrix`) and `data/blosum62-special-MSA.mat` (copied below
as text). torch is replaced by numpy where the two agree; where torch computes in float32
(the β schedules), numpy does too.

`uniform()` and `blosum()` give Q̄[t] for t in 0..T (index t is the product of t + 1 steps);
test_d3pm.py compares them with protmask's tables, test_d3pm_law.py tests protmask's draws
against them.
"""

import numpy as np

T = 500
# MSA_ALPHABET's amino acids (protein-sequence-models constants.py), gap last.
MSA_AAS = "ACDEFGHIKLMNPQRSTVWYBZXJOU-"
K = len(MSA_AAS) - 1  # Tokenizer(sequences=True) slices the gap off

# data/blosum62-special-MSA.mat of microsoft/evodiff (MIT licence), header comments kept.
BLOSUM_MAT = """\
;  Matrix made by matblas from blosum62.iij
;  BLOSUM Clustered Scoring Matrix in 1/2 Bit Units
;  Blocks Database = /data/blocks_5.0/blocks.dat
;  Cluster Percentage: >= 62
;  Entropy =   0.6979, Expected =  -0.5209
;  JOU- have been added
   A  R  N  D  C  Q  E  G  H  I  L  K  M  F  P  S  T  W  Y  V  B  Z  X  J  O  U  -
A  4 -1 -2 -2  0 -1 -1  0 -2 -1 -1 -1 -1 -2 -1  1  0 -3 -2  0 -2 -1  0 -1 -1 -1 -1
R -1  5  0 -2 -3  1  0 -2  0 -3 -2  2 -1 -3 -2 -1 -1 -3 -2 -3 -1  0 -1 -1 -1 -1 -1
N -2  0  6  1 -3  0  0  0  1 -3 -3  0 -2 -3 -2  1  0 -4 -2 -3  3  0 -1 -1 -1 -1 -1
D -2 -2  1  6 -3  0  2 -1 -1 -3 -4 -1 -3 -3 -1  0 -1 -4 -3 -3  4  1 -1 -1 -1 -1 -1
C  0 -3 -3 -3  9 -3 -4 -3 -3 -1 -1 -3 -1 -2 -3 -1 -1 -2 -2 -1 -3 -3 -2 -1 -1 -1 -1
Q -1  1  0  0 -3  5  2 -2  0 -3 -2  1  0 -3 -1  0 -1 -2 -1 -2  0  3 -1 -1 -1 -1 -1
E -1  0  0  2 -4  2  5 -2  0 -3 -3  1 -2 -3 -1  0 -1 -3 -2 -2  1  4 -1 -1 -1 -1 -1
G  0 -2  0 -1 -3 -2 -2  6 -2 -4 -4 -2 -3 -3 -2  0 -2 -2 -3 -3 -1 -2 -1 -1 -1 -1 -1
H -2  0  1 -1 -3  0  0 -2  8 -3 -3 -1 -2 -1 -2 -1 -2 -2  2 -3  0  0 -1 -1 -1 -1 -1
I -1 -3 -3 -3 -1 -3 -3 -4 -3  4  2 -3  1  0 -3 -2 -1 -3 -1  3 -3 -3 -1 -1 -1 -1 -1
L -1 -2 -3 -4 -1 -2 -3 -4 -3  2  4 -2  2  0 -3 -2 -1 -2 -1  1 -4 -3 -1 -1 -1 -1 -1
K -1  2  0 -1 -3  1  1 -2 -1 -3 -2  5 -1 -3 -1  0 -1 -3 -2 -2  0  1 -1 -1 -1 -1 -1
M -1 -1 -2 -3 -1  0 -2 -3 -2  1  2 -1  5  0 -2 -1 -1 -1 -1  1 -3 -1 -1 -1 -1 -1 -1
F -2 -3 -3 -3 -2 -3 -3 -3 -1  0  0 -3  0  6 -4 -2 -2  1  3 -1 -3 -3 -1 -1 -1 -1 -1
P -1 -2 -2 -1 -3 -1 -1 -2 -2 -3 -3 -1 -2 -4  7 -1 -1 -4 -3 -2 -2 -1 -2 -1 -1 -1 -1
S  1 -1  1  0 -1  0  0  0 -1 -2 -2  0 -1 -2 -1  4  1 -3 -2 -2  0  0  0 -1 -1 -1 -1
T  0 -1  0 -1 -1 -1 -1 -2 -2 -1 -1 -1 -1 -2 -1  1  5 -2 -2  0 -1 -1  0 -1 -1 -1 -1
W -3 -3 -4 -4 -2 -2 -3 -2 -2 -3 -2 -3 -1  1 -4 -3 -2 11  2 -3 -4 -3 -2 -1 -1 -1 -1
Y -2 -2 -2 -3 -2 -1 -2 -3  2 -1 -1 -2 -1  3 -3 -2 -2  2  7 -1 -3 -2 -1 -1 -1 -1 -1
V  0 -3 -3 -3 -1 -2 -2 -3 -3  3  1 -2  1 -1 -2 -2  0 -3 -1  4 -3 -2 -1 -1 -1 -1 -1
B -2 -1  3  4 -3  0  1 -1  0 -3 -4  0 -3 -3 -2  0 -1 -4 -3 -3  4  1 -1 -1 -1 -1 -1
Z -1  0  0  1 -3  3  4 -2  0 -3 -3  1 -1 -3 -1  0 -1 -3 -2 -2  1  4 -1 -1 -1 -1 -1
X  0 -1 -1 -1 -2 -1 -1 -1 -1 -1 -1 -1 -1 -1 -2  0  0 -2 -1 -1 -1 -1 -1 -1 -1 -1 -1
J -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1  4 -1 -1 -1
O -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1  4 -1 -1
U -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1  4 -1
- -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1 -1  4
"""


def load_matrix(text):
    """utils.loadMatrix: row label + column label -> score, in the file's order."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.startswith(";")]
    labels = lines[0]
    scores = {}
    for ln in lines[1:]:
        assert len(ln) == len(labels) + 1
        for lab, value in zip(labels, ln[1:]):
            scores[ln[0] + lab] = float(value)
    return labels, scores


def torch_linspace_f32(start, end, steps):
    """torch's CPU linspace for float32: up from start for the first half, down from end
    for the second, in float32."""
    start, end = np.float32(start), np.float32(end)
    step = (end - start) / np.float32(steps - 1)
    out = np.empty(steps, dtype=np.float32)
    half = steps // 2
    for i in range(steps):
        if i < half:
            out[i] = start + step * np.float32(i)
        else:
            out[i] = end - step * np.float32(steps - i - 1)
    return out


def beta_schedule(schedule, start=1e-5, end=0.999, max=8):
    """utils._beta_schedule, float32 as torch makes it. exp is taken in float64 and
    rounded (the correctly rounded expf)."""
    if schedule == "sohl-dickstein":
        k = torch_linspace_f32(0, T - 1, T)
        return np.float32(1) / (np.float32(T) - k + np.float32(1))
    assert schedule == "exp"
    x = torch_linspace_f32(0, max, T)
    e = np.exp(x.astype(np.float64)).astype(np.float32)
    return e * np.float32(end - start) + np.float32(start)


def l1(q, axis):
    """sklearn.preprocessing.normalize(q, axis=axis, norm='l1') for positive q: axis=1
    divides each row by its sum, axis=0 each column."""
    return q / q.sum(axis=axis, keepdims=True)


def q_blosum():
    labels, scores = load_matrix(BLOSUM_MAT)
    n = len(labels)
    q = np.array(list(scores.values())).reshape((n, n))
    q = np.exp(q) / np.sum(np.exp(q), axis=0)  # softmax
    q = l1(q, 1)  # double_stochastic
    while not np.isclose(np.min(np.sum(q, axis=0)), 1):
        q = l1(q, 0)
        q = l1(q, 1)
    new_q = q.copy()
    a_to_i = {a: i for i, a in enumerate(MSA_AAS)}
    for i in range(n):
        for j in range(n):
            new_q[a_to_i[labels[i]], a_to_i[labels[j]]] = q[i, j]
    return new_q[:-1, :-1]


def steps(q, betas):
    out = []
    for b in betas:
        non_diag = q * np.float64(b)
        norm = 1 - non_diag.sum(axis=0)
        out.append(np.identity(K) * norm + non_diag)
    return out


def cumprod_matrix(a):
    bar = [a[0]]
    for m in a[1:]:
        bar.append(bar[-1] @ m)
    return np.stack(bar)


def uniform():
    return cumprod_matrix(steps(np.ones((K, K)) / K, beta_schedule("sohl-dickstein")))


def blosum():
    betas = beta_schedule("exp", max=6)
    betas = betas / betas.max() + np.float32(1 / T)
    return cumprod_matrix(steps(q_blosum(), betas))


def normalised_cdf(q_bar):
    c = np.cumsum(q_bar, axis=-1)
    return c / c[..., -1:]
