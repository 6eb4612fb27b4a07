"""Adversarial hard examples: L-infinity projected gradient ascent."""
import copy
from contextlib import ExitStack, contextmanager, nullcontext
from typing import (ContextManager, Iterator, List, Optional, Sequence,
                    Tuple)

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError
from ..utils import CleanPass, PseudoLabels, frozen_norm_stats
from .base import BaseHardExample, HardViews


def _swap_state(first: nn.Module, second: nn.Module) -> None:
    """Exchange the parameters and buffers of two modules of one kind.

    Args:
        first (nn.Module): A module.
        second (nn.Module): A module with the same parameter and buffer names.
    """
    for store in ('_parameters', '_buffers'):
        a, b = getattr(first, store), getattr(second, store)
        for key in a:
            a[key], b[key] = b[key], a[key]


@MODELS.register_module()
class AdversarialHardExample(BaseHardExample):
    """Adversarial views, as in HEXA (`Li et al. 2020
    <https://arxiv.org/abs/2012.13493>`_): L∞ projected gradient ascent
    (PGD, `Madry et al. 2018 <https://arxiv.org/abs/1706.06083>`_) on the
    algorithm's pseudo-label loss with respect to the image, targets fixed.

    ``eps`` and ``step_size`` are in [0, 1] pixel units and are converted
    through the data preprocessor's std (``algorithm.pixel_scale()``); each
    step is ``view += step_size * sign(grad)``, then projected onto the
    ε-ball around the clean view and clipped to the valid pixel range
    [0, 1]. The targets of the adversarial views are those of the clean
    views.

    Each step ascends exactly the loss the adversarial views are trained
    with: ``algorithm.hard_view_loss`` of all the views together, so batch
    norm groups them as in training (for DeepCluster-v2, both assignment
    crops in one batch).

    The attack changes nothing in the model: its forward passes leave the
    batch-norm running statistics alone, and the input gradients are taken
    with :func:`torch.autograd.grad`, so no ``.grad`` is left on the
    parameters. With ``reuse_clean_pass`` (the default) the first step
    follows the gradient of the algorithm's clean loss with respect to the
    clean views, which the algorithm takes in the same backward pass as the
    clean loss's parameter gradients
    (:meth:`PseudoLabelAlgorithm.clean_backward`): a one-step attack then
    costs no forward or backward pass of its own. That gradient is of the
    clean loss (for MoCo-v2, over ``[positive, queue]``; for multi-crop
    DeepCluster-v2, with the small crops in the neck's batch), where later
    steps and the naive path (``reuse_clean_pass=False``: a fresh forward
    and backward) ascend the hard-view loss; the two agree where the clean
    loss is the hard-view loss of the clean views. The clean pass cannot be
    reused when the attack starts elsewhere (``random_start``), runs on
    other norms (``aux_norm``), attacks only some of the source views
    (``view_indices``), or under float16 autocast (its gradients would need
    loss scaling); there every step makes its own passes.

    ``aux_norm`` gives adversarial views their own batch norms, as AdvProp
    (`Xie et al. 2020 <https://arxiv.org/abs/1911.09665>`_): a copy of each
    batch norm of the encoder (``algorithm.backbone`` and ``algorithm.neck``)
    is kept in this generator and used for the attack and for the adversarial
    views' loss. Evaluation and the extracted backbone use the main norms.

    The HEXA paper does not publish its attack settings; ``eps=2/255``, one
    step of size ``eps`` and no random start are hexa_mm's defaults.

    Args:
        eps (float): L∞ bound of the perturbation in [0, 1] pixel units, in
            (0, 1]. Defaults to 2/255.
        step_size (float, optional): Size of a step in pixel units, in
            (0, 1]. Defaults to None (``eps``).
        steps (int): Number of ascent steps, >= 1. Defaults to 1.
        random_start (bool): Start from a uniform point in the ε-ball.
            Defaults to False.
        aux_norm (bool): AdvProp auxiliary batch norms. Defaults to False.
        reuse_clean_pass (bool): Take the first gradient from the clean
            loss's backward pass where possible (see above); False always
            makes new passes (the naive path). Defaults to True.
        weight (float): Weight of the loss. Defaults to 1.0.
        name (str): Name of the logged terms. Defaults to ``'adv'``.
        view_indices (Sequence[int], optional): Which source views to make
            hard. Defaults to None (all).
    """

    def __init__(self,
                 eps: float = 2 / 255,
                 step_size: Optional[float] = None,
                 steps: int = 1,
                 random_start: bool = False,
                 aux_norm: bool = False,
                 reuse_clean_pass: bool = True,
                 weight: float = 1.0,
                 name: str = 'adv',
                 view_indices: Optional[Sequence[int]] = None) -> None:
        super().__init__(weight=weight, name=name, view_indices=view_indices)
        step_size = eps if step_size is None else step_size
        if not 0 < eps <= 1:
            raise ConfigError(
                f'AdversarialHardExample: eps={eps} must be in (0, 1] '
                '(pixel units: 2/255 is two grey levels).')
        if not 0 < step_size <= 1:
            raise ConfigError(f'AdversarialHardExample: step_size={step_size} '
                              'must be in (0, 1] (pixel units).')
        if not isinstance(steps, int) or steps < 1:
            raise ConfigError(
                f'AdversarialHardExample: steps={steps} must be an int >= 1.')
        self.eps = float(eps)
        self.step_size = float(step_size)
        self.steps = steps
        self.random_start = bool(random_start)
        self.aux_norm = bool(aux_norm)
        self.reuse_clean_pass = bool(reuse_clean_pass)
        self.aux_norms = nn.ModuleList()
        self._norm_names: List[str] = []

    @property
    def needs_clean_grads(self) -> bool:
        """Whether to ask for the clean loss's gradient w.r.t. the views.

        Returns:
            bool: ``reuse_clean_pass`` unless ``random_start``, ``aux_norm``
            or ``view_indices`` is set.
        """
        return (self.reuse_clean_pass and not self.random_start
                and not self.aux_norm and self.view_indices is None)

    @property
    def own_norms(self) -> bool:
        """Whether the adversarial views have batch norms of their own.

        Returns:
            bool: ``aux_norm``.
        """
        return self.aux_norm

    def check_algorithm(self, algorithm: nn.Module) -> None:
        """Check the interface; with ``aux_norm``, copy the encoder's norms.

        Args:
            algorithm (nn.Module): The algorithm this generator serves.
        """
        super().check_algorithm(algorithm)
        if not self.aux_norm:
            return
        encoder = [('backbone', getattr(algorithm, 'backbone', None)),
                   ('neck', getattr(algorithm, 'neck', None))]
        for prefix, module in encoder:
            if not isinstance(module, nn.Module):
                continue
            for name, norm in module.named_modules():
                if isinstance(norm, _BatchNorm):
                    self._norm_names.append(f'{prefix}.{name}')
                    self.aux_norms.append(copy.deepcopy(norm))
        if not self._norm_names:
            raise ConfigError(
                'AdversarialHardExample: aux_norm=True needs batch norms in '
                f'{type(algorithm).__name__}.backbone or .neck; found none.')

    @contextmanager
    def _auxiliary_norms(self, algorithm: nn.Module) -> Iterator[None]:
        """Swap the encoder's batch norms for the auxiliary ones.

        Args:
            algorithm (nn.Module): The algorithm.

        Yields:
            None: Inside the context the auxiliary norms are in use.
        """
        pairs = [(algorithm.get_submodule(name), aux)
                 for name, aux in zip(self._norm_names, self.aux_norms)]
        for main, aux in pairs:
            _swap_state(main, aux)
        try:
            yield
        finally:
            for main, aux in pairs:
                _swap_state(main, aux)

    def encoding(self, algorithm: nn.Module) -> ContextManager:
        """The auxiliary norms with ``aux_norm``, else no change.

        Args:
            algorithm (nn.Module): The algorithm.

        Returns:
            ContextManager: The context of the adversarial views' forward.
        """
        return (self._auxiliary_norms(algorithm)
                if self.aux_norm else nullcontext())

    def _input_grads(self, algorithm: nn.Module, views: List[torch.Tensor],
                     labels: List[PseudoLabels]) -> Tuple[torch.Tensor, ...]:
        """Gradient of the hard-view loss with respect to each view.

        Args:
            algorithm (nn.Module): The algorithm.
            views (list[torch.Tensor]): Views to differentiate at.
            labels (list[PseudoLabels]): The fixed targets of each view.

        Returns:
            tuple[torch.Tensor, ...]: One gradient per view.
        """
        with ExitStack() as stack:
            stack.enter_context(torch.enable_grad())
            stack.enter_context(self.encoding(algorithm))
            stack.enter_context(frozen_norm_stats(algorithm))
            leaves = [v.detach().requires_grad_(True) for v in views]
            loss = algorithm.hard_view_loss(leaves, labels)
            return torch.autograd.grad(loss, leaves)

    def forward(self, algorithm: nn.Module, clean: CleanPass,
                labels: List[PseudoLabels]) -> HardViews:
        """Adversarial views of the clean source views.

        Args:
            algorithm (nn.Module): The algorithm (pseudo-label interface).
            clean (CleanPass): The clean source views, and with
                ``reuse_clean_pass`` the clean loss's gradient.
            labels (list[PseudoLabels]): The pseudo-labels of each view.

        Returns:
            tuple: The adversarial views (detached), the clean targets, and
            no further scalars (the loss rise is logged by the algorithm).
        """
        sources = [v.detach() for v in clean.views]
        mean, std = (t.to(sources[0]) for t in algorithm.pixel_scale())
        low, high = (0 - mean) / std, (1 - mean) / std
        eps, step = self.eps / std, self.step_size / std
        # the ε-ball around each clean view, within the valid pixel range
        lower = [torch.maximum(s - eps, low) for s in sources]
        upper = [torch.minimum(s + eps, high) for s in sources]
        views = sources
        if self.random_start:
            views = [
                torch.clamp(s + (torch.rand_like(s) * 2 - 1) * eps, lo, up)
                for s, lo, up in zip(sources, lower, upper)
            ]
        for i in range(self.steps):
            if i == 0 and self.needs_clean_grads and clean.grads is not None:
                grads = clean.grads
            else:
                grads = self._input_grads(algorithm, views, labels)
            views = [
                torch.clamp(v + step * g.sign(), lo, up)
                for v, g, lo, up in zip(views, grads, lower, upper)
            ]
        return [v.detach() for v in views], list(labels), {}
