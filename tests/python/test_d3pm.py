"""protmask's D3PM tables (src/d3pm.rs) against numpy's, recomputed from EvoDiff's code in
d3pm_reference.py.

protmask's tables come from `PROTMASK_D3PM_DUMP=DIR cargo nextest run -E
'test(d3pm_tables_dump)'` (DIR/uniform.f64, DIR/blosum.f64: every Q̄[t], then every
normalised cumulative row, little-endian f64); this test reads DIR from the same variable.
"""

import os
import pathlib

import numpy as np
import pytest

from d3pm_reference import K, T, blosum, normalised_cdf, uniform

DUMP = os.environ.get("PROTMASK_D3PM_DUMP")


@pytest.mark.skipif(not DUMP, reason="PROTMASK_D3PM_DUMP names no dump of protmask's tables")
@pytest.mark.parametrize("kind,build", [("uniform", uniform), ("blosum", blosum)])
def test_protmask_tables_match_numpy(kind, build):
    raw = np.frombuffer(pathlib.Path(DUMP, f"{kind}.f64").read_bytes(), dtype="<f8")
    assert raw.size == 2 * T * K * K
    ours = raw.reshape((2, T, K, K))
    q_bar = build()
    assert q_bar.shape == (T, K, K)
    np.testing.assert_allclose(ours[0], q_bar, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours[1], normalised_cdf(q_bar), rtol=0, atol=1e-12)


def test_uniform_closed_form():
    """Q̄[t] = ᾱ I + (1 - ᾱ)/K 11ᵀ, ᾱ = (T - t)/(T + 1), up to float32 β."""
    q_bar = uniform()
    t = np.arange(T)[:, None, None]
    alpha = (T - t) / (T + 1)
    closed = alpha * np.identity(K) + (1 - alpha) / K
    np.testing.assert_allclose(q_bar, closed, rtol=0, atol=1e-8)
