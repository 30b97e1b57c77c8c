"""A small linear-chain CRF over token emissions, with the BIO grammar as hard constraints.

Positions to tag are given by a boolean ``mask`` that need not be contiguous: positions labelled
``-100`` (special tokens, later sub-words, window context) are skipped and the chain runs over the
remaining positions in order, so the transitions learnt are between the units that carry labels.
Forbidden transitions are ``-inf``: Viterbi can never emit them, and a gold sequence that uses one
raises instead of giving an infinite loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .config import parse_label

__all__ = ["LinearChainCRF", "allowed_transitions"]


def allowed_transitions(labels: Sequence[str], scheme: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(start, transitions)`` boolean masks: which labels may start a sequence and follow each label.

    BIO forbids ``I-X`` at the start, after ``O`` and after any label of another type (so
    ``B-X -> I-Y`` and ``I-X -> I-Y``); IO allows everything.

    Examples:
        >>> start, trans = allowed_transitions(["O", "B-D", "I-D"], "BIO")
        >>> start.tolist(), trans.int().tolist()
        ([True, True, False], [[1, 1, 0], [1, 1, 1], [1, 1, 1]])
    """
    parsed = [parse_label(x, scheme) for x in labels]
    n = len(parsed)
    if scheme == "IO":
        return torch.ones(n, dtype=torch.bool), torch.ones(n, n, dtype=torch.bool)
    inside = torch.tensor([p == "I" for p, _ in parsed])
    kinds = [k for _, k in parsed]
    same_type = torch.tensor([[a[0] != "O" and a[1] == b for b in kinds] for a in parsed])
    return ~inside, ~inside[None, :] | same_type


class LinearChainCRF(nn.Module):
    """Linear-chain CRF: ``score(y) = start[y0] + sum_t emit[t, y_t] + sum_t trans[y_{t-1}, y_t] + end[y_last]``.

    Args:
        num_labels: number of labels (emission size).
        allowed_start: ``(num_labels,)`` bool, labels that may start a sequence; all if None.
        allowed: ``(num_labels, num_labels)`` bool, ``allowed[i, j]``: label ``j`` may follow ``i``; all if None.
    """

    def __init__(self, num_labels: int, allowed_start: torch.Tensor | None = None,
                 allowed: torch.Tensor | None = None) -> None:
        super().__init__()
        self.num_labels = num_labels
        self.start_transitions = nn.Parameter(torch.zeros(num_labels))
        self.end_transitions = nn.Parameter(torch.zeros(num_labels))
        self.transitions = nn.Parameter(torch.zeros(num_labels, num_labels))
        start = torch.ones(num_labels, dtype=torch.bool) if allowed_start is None else allowed_start.bool()
        trans = torch.ones(num_labels, num_labels, dtype=torch.bool) if allowed is None else allowed.bool()
        # derived from the labels, so rebuilt rather than saved
        self.register_buffer("allowed_start", start, persistent=False)
        self.register_buffer("allowed", trans, persistent=False)

    @classmethod
    def from_labels(cls, labels: Sequence[str], scheme: str) -> "LinearChainCRF":
        return cls(len(labels), *allowed_transitions(labels, scheme))

    def _potentials(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        neg_inf = float("-inf")
        start = self.start_transitions.to(dtype).masked_fill(~self.allowed_start, neg_inf)
        trans = self.transitions.to(dtype).masked_fill(~self.allowed, neg_inf)
        return start, trans, self.end_transitions.to(dtype)

    @staticmethod
    def _compact(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Stable permutation moving the tagged positions of each row to the front, the new prefix mask, lengths."""
        order = torch.sort((~mask).to(torch.int8), dim=1, stable=True).indices
        lengths = mask.sum(1)
        prefix = torch.arange(mask.shape[1], device=mask.device)[None, :] < lengths[:, None]
        return order, prefix, lengths

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if emissions.ndim != 3 or emissions.shape[-1] != self.num_labels or emissions.shape[1] == 0:
            raise ValueError(f"emissions must be (batch, seq_len >= 1, {self.num_labels}), got "
                             f"{tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2]:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match emissions {tuple(emissions.shape[:2])}")
        return mask.bool()

    def nll(self, emissions: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Negative log-likelihood of ``labels``, summed over sequences and divided by the number of tagged tokens.

        Per tagged token, like the cross-entropy it replaces, so learning rates carry over. ``mask``
        defaults to ``labels != -100``; sequences with no tagged position contribute nothing.
        """
        mask = self._check(emissions, labels != -100 if mask is None else mask)
        order, prefix, lengths = self._compact(mask)
        em = emissions.gather(1, order[..., None].expand_as(emissions)).float()
        tags = labels.gather(1, order).masked_fill(~prefix, 0)
        if ((tags < 0) | (tags >= self.num_labels)).any():
            raise ValueError(f"labels at tagged positions must be in [0, {self.num_labels}); mask out the others "
                             "with -100")
        start, trans, end = self._potentials(em.dtype)
        log_z = self._log_partition(em, prefix, start, trans, end)
        gold = self._path_score(em, tags, prefix, lengths, start, trans, end)
        has = lengths > 0
        if not torch.isfinite(gold[has]).all():
            row = int(torch.nonzero(has & ~torch.isfinite(gold))[0])
            raise ValueError(f"sequence {row} of the batch has a gold label path the CRF forbids (e.g. 'I-X' at the "
                             "start, after 'O' or after another type): start every sequence and window with "
                             "'O' or 'B-X', or use scheme='IO'")
        return torch.where(has, log_z - gold, 0.0).sum() / lengths.sum().clamp(min=1)

    @staticmethod
    def _log_partition(em, prefix, start, trans, end) -> torch.Tensor:
        alpha = start + em[:, 0]
        for t in range(1, em.shape[1]):
            step = torch.logsumexp(alpha[:, :, None] + trans[None], dim=1) + em[:, t]
            alpha = torch.where(prefix[:, t, None], step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    @staticmethod
    def _path_score(em, tags, prefix, lengths, start, trans, end) -> torch.Tensor:
        emit = em.gather(2, tags[..., None]).squeeze(-1)
        step = trans[tags[:, :-1], tags[:, 1:]]
        # where, not multiply: a forbidden (-inf) step outside the mask must not turn into nan
        score = start[tags[:, 0]] + torch.where(prefix, emit, 0.0).sum(1)
        score = score + torch.where(prefix[:, 1:], step, 0.0).sum(1)
        last = tags.gather(1, (lengths - 1).clamp(min=0)[:, None]).squeeze(1)
        return score + end[last]

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Viterbi path per sequence: label ids at the ``mask`` positions, ``-100`` elsewhere.

        Batched over sequences and vectorised over labels; the loop runs over time only.
        """
        mask = self._check(emissions, mask)
        order, prefix, lengths = self._compact(mask)
        em = emissions.gather(1, order[..., None].expand_as(emissions)).float()
        start, trans, end = self._potentials(em.dtype)
        batch, steps, n = em.shape
        stay = torch.arange(n, device=em.device).expand(batch, n)
        score = start + em[:, 0]
        back = []
        for t in range(1, steps):
            best, arg = (score[:, :, None] + trans[None]).max(dim=1)
            score = torch.where(prefix[:, t, None], best + em[:, t], score)
            back.append(torch.where(prefix[:, t, None], arg, stay))
        last = (score + end).argmax(-1)
        path = [last]
        for arg in reversed(back):
            last = arg.gather(1, last[:, None]).squeeze(1)
            path.append(last)
        path = torch.stack(path[::-1], dim=1).masked_fill(~prefix, -100)
        return torch.full_like(path, -100).scatter_(1, order, path)
