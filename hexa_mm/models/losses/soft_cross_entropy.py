"""Soft cross-entropy between logits and probability targets."""
import torch
import torch.nn.functional as F


def soft_cross_entropy(logits: torch.Tensor,
                       targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits`` against probability vectors ``targets``.

    ``-sum_c targets[n, c] * log_softmax(logits)[n, c]``, averaged over the
    samples. Entries where the target is zero contribute nothing, even where
    the logit is ``-inf`` (a masked label).

    Args:
        logits (torch.Tensor): Unnormalised scores, shape (N, C).
        targets (torch.Tensor): Probabilities over the same C labels, each
            row summing to 1, shape (N, C).

    Returns:
        torch.Tensor: The mean loss, a scalar.
    """
    if logits.shape != targets.shape:
        raise ValueError(f'soft_cross_entropy: logits {tuple(logits.shape)} '
                         f'and targets {tuple(targets.shape)} must have the '
                         'same shape.')
    log_prob = F.log_softmax(logits, dim=-1)
    terms = torch.where(targets > 0, targets * log_prob,
                        torch.zeros_like(log_prob))
    return -terms.sum(dim=-1).mean()
