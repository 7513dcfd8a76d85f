"""The methods the papers propose or test, built on :mod:`hcvae.core`: clusterings and the historical barrier
(v1 §4), Historical Consensus Training (v1 Algorithm 1), the shell transform and feasible region (v4)."""
