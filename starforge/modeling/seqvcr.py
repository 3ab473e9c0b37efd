"""Seq-VCR (Sequential Variance-Covariance Regularization, Arefin et al., arXiv 2411.02344,
ICLR 2025) and the representation-collapse metric; shared by `pretrain` and `finetune`
(each trainer hooks its own model's layer: `pretrain/seqvcr_hook.py` for megatron-core,
`finetune`'s trainer subclass for Hugging Face models).

The regulariser (paper, section 3, eq. 3; VICReg's variance and covariance terms, arXiv
2105.04906, applied per sequence position): take the hidden states X [b, s, h] of one layer,
project them with a linear map used only by this loss, X' = XW [b, s, d]; for every position i
take the covariance C_i [d, d] of X'[:, i, :] over the batch (unbiased, 1/(b-1), as VICReg) and

    var_i = mean_k max(0, 1 - sqrt(C_i[k, k] + eps))
    cov_i = sum_{k != l} C_i[k, l]^2 / d
    loss  = LM loss + lambda_var * mean_i var_i + lambda_cov * mean_i cov_i

Defaults: the paper projects GPT-2 small's 768 to 2048 and applies the loss at the model's final
hidden output (section 3.4); lambda_var 1.0 and lambda_cov 0.004 for multiplication, eps 1e-3,
as a public re-implementation states them for the paper (the ICLR reviews note that the
paper's v1 did not report the lambdas; we could not read its appendix to confirm them).

Tensor parallelism (`pretrain/seqvcr_hook.py`): megatron-core's layer outputs are full width on
every tensor-parallel rank (the row-parallel output projection all-reduces), so the statistics already see the whole hidden
dimension; under sequence parallelism they are split along the sequence and `megatron_hidden`
gathers them (differentiably). The projection is a plain replicated parameter: every TP rank
initialises it from the same seed and computes the same loss, so its gradients agree, and
`optim.clip_gradients` counts it once (it is a TP duplicate). Data-parallel ranks average its
gradient with the model's, since it is registered as a submodule of the model.

Collapse metric: the Shannon entropy of the normalised eigenvalue spectrum of the covariance of a
layer's representations (all counted tokens of a batch), and its exponential, the effective rank
(Roy & Vetterli 2007). Its maximum is ln(h): every direction used equally; collapse drives it
towards 0. (The paper's matrix entropy uses the token Gram matrix; its non-zero eigenvalues are
those of the uncentred covariance, so the two agree up to centring.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from starforge.errors import ConfigError


@dataclass
class SeqVcrConfig:
    layer: int | None = None
    """1-based transformer layer whose output is regularised; None = the last layer, whose output
    feeds the final LayerNorm and the LM head (the paper applies Seq-VCR at the final output)."""
    projection_size: int = 2048
    """Width of the linear projection used only by this loss (paper: GPT-2 small's 768 -> 2048)."""
    lambda_var: float = 1.0
    """Weight of the variance term (paper, multiplication: 1.0)."""
    lambda_cov: float = 0.004
    """Weight of the covariance term (paper, multiplication: 0.004)."""
    eps: float = 1e-3
    """Added to each variance before the square root (eta in the paper)."""

    def __post_init__(self) -> None:
        for name in ("lambda_var", "lambda_cov"):
            if getattr(self, name) < 0:
                raise ConfigError(f"seqvcr.{name}={getattr(self, name)} must be >= 0")
        if self.eps <= 0:
            raise ConfigError(f"seqvcr.eps={self.eps} must be > 0")
        if self.projection_size < 1:
            raise ConfigError(f"seqvcr.projection_size={self.projection_size} must be >= 1")

    def layer_index(self, num_layers: int) -> int:
        """The 1-based layer, checked against the model; one-line ConfigError if outside it."""
        layer = num_layers if self.layer is None else self.layer
        if not 1 <= layer <= num_layers:
            raise ConfigError(f"seqvcr.layer={self.layer} is outside the model's layers 1..{num_layers}; "
                              "set seqvcr.layer to one of them or null for the last")
        return layer


def seqvcr_terms(projected: torch.Tensor, eps: float, mask: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(variance term, covariance term) of projected states [b, s, d], averaged over positions.
    `mask` [b, s] (true = a real token) leaves padding out: each position's statistics use only
    the sequences that reach it, and positions fewer than 2 sequences reach are left out."""
    b, _, d = projected.shape
    if b < 2:
        raise ValueError("Seq-VCR needs a batch of at least 2 sequences (covariance over the batch)")
    with torch.autocast(projected.device.type, enabled=False):  # statistics in fp32 even under bf16
        x = projected.float().transpose(0, 1)  # [s, b, d]
        m = None if mask is None else mask.transpose(0, 1).to(x.dtype)
        return _terms(x, eps, m)


def _terms(x: torch.Tensor, eps: float, m: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    s, b, d = x.shape
    if m is None:
        x = x - x.mean(dim=1, keepdim=True)
        n1 = torch.full((s,), b - 1.0, dtype=x.dtype, device=x.device)  # samples - 1 per position
    else:  # per position, only the sequences that reach it; positions fewer than 2 reach are left out
        n = m.sum(dim=1)
        keep = n >= 2
        x, m, n = x[keep], m[keep].unsqueeze(-1), n[keep]
        x = (x - (x * m).sum(dim=1, keepdim=True) / n[:, None, None]) * m  # padded rows add nothing below
        n1 = n - 1
    diag = x.pow(2).sum(dim=1) / n1[:, None]  # [s, d]: C_kk
    var = torch.relu(1.0 - torch.sqrt(diag + eps)).mean(dim=1)  # [s]
    # sum_kl C_kl^2 = ||X^T X||_F^2 / (n-1)^2 = ||X X^T||_F^2 / (n-1)^2: the [b, b] Gram matrix
    # is the cheaper one when the batch is narrower than the projection (b < d, the usual case).
    gram = x @ x.transpose(1, 2) if b < d else x.transpose(1, 2) @ x  # [s, b, b] or [s, d, d]
    off = (gram.pow(2).sum(dim=(1, 2)) / n1 ** 2 - diag.pow(2).sum(dim=1)) / d  # [s]
    return var.mean(), off.mean()


class SeqVcrRegularizer(torch.nn.Module):
    """The projection and the loss; `forward(hidden [b, s, h])` -> weighted Seq-VCR loss."""

    def __init__(self, cfg: SeqVcrConfig, hidden_size: int):
        super().__init__()
        self.cfg = cfg
        self.projection = torch.nn.Linear(hidden_size, cfg.projection_size)
        self.last: dict[str, float] = {}
        self.last_hidden: torch.Tensor | None = None
        self.last_mask: torch.Tensor | None = None

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """`mask` [b, s]: real tokens (padding left out of the statistics); None: every position."""
        var, cov = seqvcr_terms(self.projection(hidden.to(self.projection.weight.dtype)), self.cfg.eps, mask)
        self.last = {"seqvcr_var": var.detach(), "seqvcr_cov": cov.detach()}  # read at log time: no sync here
        self.last_hidden = hidden.detach()
        self.last_mask = None if mask is None else mask.detach()
        return self.cfg.lambda_var * var + self.cfg.lambda_cov * cov

    def metrics(self) -> dict[str, float]:
        """The last microbatch's terms and the collapse metric of the regularised layer."""
        out = {k: float(v) for k, v in self.last.items()}
        if self.last_hidden is not None:
            out["seqvcr_entropy"] = spectrum_entropy(self.last_hidden, self.last_mask)
            out["seqvcr_effective_rank"] = effective_rank(out["seqvcr_entropy"])
        return out


@torch.no_grad()
def spectrum_entropy(hidden: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Entropy (nats) of the normalised eigenvalues of the covariance of the token representations
    hidden [..., h] (rows where `mask` is true); ln(h) at most. exp() of it is the effective rank."""
    x = hidden.detach().double().reshape(-1, hidden.shape[-1])
    if mask is not None:
        x = x[mask.reshape(-1).bool()]
    if x.shape[0] < 2:
        return float("nan")
    x = x - x.mean(dim=0, keepdim=True)
    eig = torch.linalg.eigvalsh(x.T @ x / (x.shape[0] - 1)).clamp(min=0)
    p = eig / eig.sum()
    p = p[p > 0]
    return float(-(p * p.log()).sum())


def effective_rank(entropy: float) -> float:
    return math.exp(entropy)
