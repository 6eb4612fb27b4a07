"""The pseudo-label interface every hexa_mm algorithm implements."""
from abc import abstractmethod
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.structures import DataSample
from torch import nn

from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError
from ..hard_examples.base import BaseHardExample
from ..losses import soft_cross_entropy
from ..utils import CleanPass, PseudoLabels


def _fp16_autocast(device: torch.device) -> bool:
    """Whether float16 autocast is on for ``device``.

    Args:
        device (torch.device): The device of the inputs.

    Returns:
        bool: True under float16 autocast, where gradients need loss scaling.
    """
    return torch.is_autocast_enabled(device.type) and \
        torch.get_autocast_dtype(device.type) == torch.float16


class PseudoLabelAlgorithm(BaseSelfSupervisor):
    """Self-supervised learning read as predicting pseudo-labels.

    Every algorithm answers three calls (see ``DESIGN.md`` §2):

    * :meth:`pseudo_labels`: targets of the clean views, without grad;
    * :meth:`predict`: logits of a view over the same label space
      (:meth:`encode` then :meth:`classify`);
    * :meth:`pseudo_label_loss`: the loss between them (soft cross-entropy).

    :meth:`loss` combines them: the clean loss, then, for each generator in
    ``hard_examples``, ``weight * pseudo_label_loss(predict(hard views),
    hard targets)``. Generators use only these calls, so any algorithm built
    on this class gets hard examples for free.

    Args:
        backbone (dict): Config of the backbone.
        neck (dict, optional): Config of the neck.
        head (dict, optional): Config of the head. Defaults to None.
        hard_examples (list[dict], optional): Configs of hard-example
            generators. Defaults to None (none).
        pretrained (str, optional): A pretrained checkpoint. Defaults to None.
        data_preprocessor (dict, optional): The data preprocessor.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 hard_examples: Optional[List[dict]] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.hard_examples = nn.ModuleList()
        for cfg in hard_examples or []:
            generator = MODELS.build(cfg) if isinstance(cfg, dict) else cfg
            if not isinstance(generator, BaseHardExample):
                raise ConfigError(
                    f'hard_examples: {type(generator).__name__} is not a '
                    'hexa_mm BaseHardExample.')
            generator.check_algorithm(self)
            self.hard_examples.append(generator)
        names = [g.name for g in self.hard_examples]
        if len(set(names)) != len(names):
            raise ConfigError(f'hard_examples: names {names} must be '
                              'unique; set `name=` on repeated generators.')

    # ------------------------------------------------------------------
    # The pseudo-label interface.
    # ------------------------------------------------------------------
    @abstractmethod
    def pseudo_labels(self, inputs: List[torch.Tensor],
                      data_samples: List[DataSample]) -> PseudoLabels:
        """Targets of the clean views, computed without grad.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            data_samples (list[DataSample]): The samples' meta information.

        Returns:
            PseudoLabels: One probability vector per image, plus the context
            :meth:`classify` needs.
        """

    @abstractmethod
    def classify(self, embedding: torch.Tensor,
                 labels: PseudoLabels) -> torch.Tensor:
        """Logits of embedded views over the label space of ``labels``.

        Args:
            embedding (torch.Tensor): Output of :meth:`encode`, (N, D).
            labels (PseudoLabels): The batch's pseudo-labels.

        Returns:
            torch.Tensor: Logits, shaped like ``labels.probs``.
        """

    def encode(self, view: torch.Tensor) -> torch.Tensor:
        """Embed a batch of views: backbone, neck, L2 normalisation.

        Args:
            view (torch.Tensor): Normalised images, (N, 3, H, W).

        Returns:
            torch.Tensor: Unit-norm embeddings, (N, D).
        """
        return F.normalize(self.neck(self.backbone(view))[0], dim=1)

    def predict(self, view: torch.Tensor,
                labels: PseudoLabels) -> torch.Tensor:
        """Logits of a view over the label space of ``labels``.

        Args:
            view (torch.Tensor): Normalised images, (N, 3, H, W).
            labels (PseudoLabels): The batch's pseudo-labels.

        Returns:
            torch.Tensor: Logits, shaped like ``labels.probs``.
        """
        return self.classify(self.encode(view), labels)

    def pseudo_label_loss(self, logits: torch.Tensor,
                          probs: torch.Tensor) -> torch.Tensor:
        """The loss between predictions and targets: soft cross-entropy.

        Args:
            logits (torch.Tensor): Output of :meth:`predict`, (N, C).
            probs (torch.Tensor): Targets, (N, C).

        Returns:
            torch.Tensor: The mean loss.
        """
        return soft_cross_entropy(logits, probs)

    def pixel_scale(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of the input normalisation, in [0, 1] pixel units.

        A view ``v`` is the image ``x`` in [0, 1] as ``v = (x - mean) / std``.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``mean`` and ``std``, each
            shaped (1, C, 1, 1).
        """
        pre = self.data_preprocessor
        if not getattr(pre, '_enable_normalize', False):
            # Raw 0-255 values: v = x * 255.
            return torch.zeros(1, 3, 1, 1), torch.full((1, 3, 1, 1), 1 / 255)
        return (pre.mean.view(1, -1, 1, 1) / 255.0,
                pre.std.view(1, -1, 1, 1) / 255.0)

    # ------------------------------------------------------------------
    # Hooks for subclasses.
    # ------------------------------------------------------------------
    def source_views(self, inputs: List[torch.Tensor]) -> List[torch.Tensor]:
        """The clean views that are predicted and that hard views come from.

        Args:
            inputs (list[torch.Tensor]): All views of the batch.

        Returns:
            list[torch.Tensor]: Defaults to the first view.
        """
        return list(inputs[:1])

    def extra_views(self, inputs: List[torch.Tensor]) -> List[torch.Tensor]:
        """Further clean views that are predicted but never made hard.

        Args:
            inputs (list[torch.Tensor]): All views of the batch.

        Returns:
            list[torch.Tensor]: Defaults to none.
        """
        return []

    def clean_loss(self, embeddings: List[torch.Tensor],
                   labels: PseudoLabels) -> torch.Tensor:
        """The algorithm's own loss on its clean views.

        Args:
            embeddings (list[torch.Tensor]): :meth:`encode` of the source views
                then the extra views.
            labels (PseudoLabels): The batch's pseudo-labels.

        Returns:
            torch.Tensor: Mean over views of :meth:`pseudo_label_loss`.
        """
        losses = [
            self.pseudo_label_loss(self.classify(e, labels), labels.probs)
            for e in embeddings
        ]
        return sum(losses) / len(losses)

    def update_state(self, labels: PseudoLabels,
                     data_samples: List[DataSample]) -> None:
        """Update training state (queues, memory banks) after a step.

        Args:
            labels (PseudoLabels): The batch's pseudo-labels.
            data_samples (list[DataSample]): The samples' meta information.
        """

    def check_train_setup(self, global_batch_size: int,
                          dataset_size: int) -> None:
        """Raise a clear error when the training setup cannot work.

        Called by :class:`hexa_mm.engine.TrainSetupCheckHook` before the
        first iteration.

        Args:
            global_batch_size (int): Batch size summed over all processes.
            dataset_size (int): Number of training samples.
        """

    # ------------------------------------------------------------------
    # Training and feature extraction.
    # ------------------------------------------------------------------
    def encode_views(self,
                     views: List[torch.Tensor]) -> List[torch.Tensor]:
        """Encode views, batching consecutive views of one resolution.

        Args:
            views (list[torch.Tensor]): Views, each (N, 3, H, W).

        Returns:
            list[torch.Tensor]: One embedding per view.
        """
        out: List[torch.Tensor] = []
        start = 0
        while start < len(views):
            end = start + 1
            while end < len(views) and views[end].shape == views[start].shape:
                end += 1
            group = views[start:end]
            merged = group[0] if len(group) == 1 else torch.cat(group)
            out.extend(self.encode(merged).chunk(len(group)))
            start = end
        return out

    def clean_backward(
            self, loss: torch.Tensor, views: List[torch.Tensor]
    ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """One backward pass of the clean loss, for the parameters and views.

        The gradient with respect to the views comes at almost no cost with
        the parameter gradients. The parameter gradients reach the
        optimiser's backward through a stand-in for the loss: its value is
        the loss, its gradient the one computed here (it is linear in the
        parameters), so the clean graph is traversed once per step.
        Distributed gradient reduction, loss scaling and gradient
        accumulation see the stand-in like any loss.

        Args:
            loss (torch.Tensor): The clean loss.
            views (list[torch.Tensor]): The clean source views, requiring
                grad.

        Returns:
            tuple[torch.Tensor, list[torch.Tensor]]: The stand-in for the
            loss, and the loss's gradient with respect to each view.
        """
        params = [p for p in self.parameters() if p.requires_grad]
        grads = torch.autograd.grad(
            loss, list(views) + params, allow_unused=True)
        linear = loss.new_zeros(())
        for param, grad in zip(params, grads[len(views):]):
            if grad is not None:
                linear = linear + (param * grad).sum()
        return loss.detach() + (linear - linear.detach()), list(
            grads[:len(views)])

    def clean_pass(self, inputs: List[torch.Tensor], labels: PseudoLabels,
                   with_grads: bool) -> Tuple[torch.Tensor, CleanPass]:
        """The clean loss, and what its pass leaves for the generators.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            labels (PseudoLabels): The batch's pseudo-labels.
            with_grads (bool): Also take the clean loss's gradient with
                respect to the source views, in the backward pass of its
                parameter gradients (:meth:`clean_backward`); not under
                float16 autocast, where gradients need loss scaling.

        Returns:
            tuple[torch.Tensor, CleanPass]: The clean loss (the stand-in of
            :meth:`clean_backward` when the gradients were taken) and the
            clean pass.
        """
        sources = self.source_views(inputs)
        with_grads = with_grads and not _fp16_autocast(sources[0].device)
        if with_grads:
            sources = [v.detach().requires_grad_(True) for v in sources]
        embeddings = self.encode_views(sources + self.extra_views(inputs))
        loss = self.clean_loss(embeddings, labels)
        grads = None
        if with_grads:
            loss, grads = self.clean_backward(loss, sources)
        return loss, CleanPass(
            views=[v.detach() for v in sources],
            embeddings=[e.detach() for e in embeddings[:len(sources)]],
            grads=grads)

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Clean loss plus the weighted loss of each hard-example generator.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            data_samples (list[DataSample]): The samples' meta information.

        Returns:
            dict[str, torch.Tensor]: ``loss_clean``, ``loss_{name}`` per
            generator, and logged scalars (``{name}_rise``: hard-view loss
            minus the clean views' loss over the same label space, and what
            each generator reports).
        """
        if not isinstance(inputs, (list, tuple)):
            raise TypeError('a self-supervised algorithm needs a list of '
                            'views; use MultiView in the train pipeline.')
        labels = self.pseudo_labels(inputs, data_samples)
        clean_loss, clean = self.clean_pass(
            inputs, labels,
            any(g.reuses_clean_pass for g in self.hard_examples))
        losses = {'loss_clean': clean_loss}
        reference = None
        for generator in self.hard_examples:
            views, hard_labels, scalars = generator(self, clean, labels)
            with generator.encoding(self):
                hard_embeddings = self.encode_views(views)
            hard = [
                self.pseudo_label_loss(
                    self.classify(e, hard_labels), hard_labels.probs)
                for e in hard_embeddings
            ]
            hard_loss = sum(hard) / len(hard)
            losses[f'loss_{generator.name}'] = generator.weight * hard_loss
            if reference is None:
                with torch.no_grad():
                    reference = sum(
                        self.pseudo_label_loss(
                            self.classify(e, labels), labels.probs)
                        for e in clean.embeddings) / len(clean.embeddings)
            losses[f'{generator.name}_rise'] = hard_loss.detach() - reference
            losses.update(scalars)
        self.update_state(labels, data_samples)
        return losses

    def extract_embedding(self, inputs: torch.Tensor) -> torch.Tensor:
        """Backbone features for evaluation: last stage, pooled, unit norm.

        Args:
            inputs (torch.Tensor): Normalised images, (N, 3, H, W).

        Returns:
            torch.Tensor: (N, C) features.
        """
        feat = self.backbone(inputs)[-1]
        if feat.dim() == 4:
            feat = F.adaptive_avg_pool2d(feat, 1).flatten(1)
        return F.normalize(feat, dim=1)

    def forward(self,
                inputs: Union[torch.Tensor, List[torch.Tensor]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """Dispatch ``tensor``, ``loss`` and ``predict`` modes.

        ``predict`` (used by validation) returns the data samples, each with
        its backbone feature in ``feature`` (see :meth:`extract_embedding`).

        Args:
            inputs (torch.Tensor or list[torch.Tensor]): The inputs.
            data_samples (list[DataSample], optional): The samples.
            mode (str): ``tensor``, ``loss`` or ``predict``.

        Returns:
            The features, the loss dict, or the data samples.
        """
        if mode != 'predict':
            return super().forward(inputs, data_samples, mode)
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        features = self.extract_embedding(inputs)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(features.shape[0])]
        for sample, feature in zip(data_samples, features):
            sample.set_field(feature, 'feature', field_type='data')
        return data_samples
