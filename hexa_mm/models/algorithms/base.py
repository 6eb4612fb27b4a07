"""The pseudo-label interface every hexa_mm algorithm implements."""
from abc import abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup import BaseSelfSupervisor
from mmpretrain.structures import DataSample
from torch import nn

from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError
from ..hard_examples.base import BaseHardExample
from ..losses import soft_cross_entropy
from ..utils import CleanPass, PseudoLabels, frozen_norm_stats

#: What :meth:`PseudoLabelAlgorithm.pseudo_labels` returns: one
#: :class:`PseudoLabels` for every source view, or one per source view.
LABELS = Union[PseudoLabels, Sequence[PseudoLabels]]


def _fp16_autocast(device: torch.device) -> bool:
    """Whether float16 autocast is on for ``device``.

    Args:
        device (torch.device): The device of the inputs.

    Returns:
        bool: True under float16 autocast, where gradients need loss scaling.
    """
    return torch.is_autocast_enabled(device.type) and \
        torch.get_autocast_dtype(device.type) == torch.float16


def resolution_groups(views: List[torch.Tensor]) -> List[List[int]]:
    """Runs of consecutive views of one size, as the references batch them.

    Args:
        views (list[torch.Tensor]): Views, each (N, C, H, W).

    Returns:
        list[list[int]]: The indices of each run, in order.
    """
    groups: List[List[int]] = []
    for i, view in enumerate(views):
        if groups and views[groups[-1][0]].shape[1:] == view.shape[1:]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


class PseudoLabelAlgorithm(BaseSelfSupervisor):
    """Self-supervised learning read as predicting pseudo-labels.

    Every algorithm answers three calls (``docs/design.md``):

    * :meth:`pseudo_labels`: targets of the clean views, without grad;
    * :meth:`logits`: logits of a view over the same label space
      (:meth:`encode` then :meth:`classify`);
    * :meth:`pseudo_label_loss`: the loss between them (soft cross-entropy).

    :meth:`loss` combines them: the clean loss, then, for each generator in
    ``hard_examples``, ``weight * hard_view_loss(hard views, hard targets)``.
    Generators use only these calls, so any algorithm built on this class
    gets hard examples for free.

    Views are encoded as the reference implementations batch them
    (:meth:`encode_views`): the backbone once per run of consecutive views
    of one resolution, the neck once over the features of all of them.

    Args:
        backbone (dict): Config of the backbone.
        neck (dict, optional): Config of the neck.
        hard_examples (list[dict], optional): Configs of hard-example
            generators. Defaults to None (none).
        pretrained (str, optional): A pretrained checkpoint. Defaults to None.
        data_preprocessor (dict, optional): The data preprocessor.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 hard_examples: Optional[List[dict]] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
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
                      data_samples: List[DataSample]) -> LABELS:
        """Targets of the clean views, computed without grad.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            data_samples (list[DataSample]): The samples' meta information.

        Returns:
            PseudoLabels or list[PseudoLabels]: One probability vector per
            image, plus the context :meth:`classify` needs; one
            :class:`PseudoLabels` serves every source view, a list gives
            each source view its own.
        """

    @abstractmethod
    def classify(self, embedding: torch.Tensor,
                 labels: PseudoLabels) -> torch.Tensor:
        """Logits of embedded views over the label space of ``labels``.

        Args:
            embedding (torch.Tensor): Output of :meth:`encode`, (N, D).
            labels (PseudoLabels): The pseudo-labels of these views.

        Returns:
            torch.Tensor: Logits, shaped like ``labels.probs``.
        """

    def encode(self, view: torch.Tensor) -> torch.Tensor:
        """Embed one batch of views: backbone, neck, L2 normalisation.

        Args:
            view (torch.Tensor): Normalised images, (N, 3, H, W).

        Returns:
            torch.Tensor: Unit-norm embeddings, (N, D).
        """
        return F.normalize(self.neck(self.backbone(view))[0], dim=1)

    def logits(self, view: torch.Tensor,
               labels: PseudoLabels) -> torch.Tensor:
        """Logits of a view over the label space of ``labels``.

        Args:
            view (torch.Tensor): Normalised images, (N, 3, H, W).
            labels (PseudoLabels): The pseudo-labels of this view.

        Returns:
            torch.Tensor: Logits, shaped like ``labels.probs``.
        """
        return self.classify(self.encode(view), labels)

    def pseudo_label_loss(self, logits: torch.Tensor,
                          probs: torch.Tensor) -> torch.Tensor:
        """The loss between predictions and targets: soft cross-entropy.

        Args:
            logits (torch.Tensor): Output of :meth:`classify`, (N, C).
            probs (torch.Tensor): Targets, (N, C).

        Returns:
            torch.Tensor: The mean loss.
        """
        return soft_cross_entropy(logits, probs)

    def hard_view_loss(self, views: List[torch.Tensor],
                       labels: List[PseudoLabels]) -> torch.Tensor:
        """The pseudo-label loss of a generator's views: encoded together
        (:meth:`encode_views`), each scored against its own targets, averaged
        over the views.

        :meth:`loss` trains this loss, and an attack climbs this very loss,
        with the same batch-norm grouping.

        Args:
            views (list[torch.Tensor]): Views, one per source view.
            labels (list[PseudoLabels]): Their pseudo-labels, one per view.

        Returns:
            torch.Tensor: The mean loss.
        """
        losses = [
            self.pseudo_label_loss(self.classify(e, lab), lab.probs)
            for e, lab in zip(self.encode_views(views), labels)
        ]
        return sum(losses) / len(losses)

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
                   labels: List[PseudoLabels]) -> torch.Tensor:
        """The algorithm's own loss on its clean views.

        Args:
            embeddings (list[torch.Tensor]): The embeddings of the source
                views then of the extra views, from one :meth:`encode_views`.
            labels (list[PseudoLabels]): One per source view; extra views
                are scored against the first.

        Returns:
            torch.Tensor: Mean over views of :meth:`pseudo_label_loss`.
        """
        view_labels = list(labels) + [labels[0]] * (
            len(embeddings) - len(labels))
        losses = [
            self.pseudo_label_loss(self.classify(e, lab), lab.probs)
            for e, lab in zip(embeddings, view_labels)
        ]
        return sum(losses) / len(losses)

    def update_state(self, labels: List[PseudoLabels], clean: CleanPass,
                     data_samples: List[DataSample]) -> None:
        """Update training state (queues, memory banks) after a step.

        Args:
            labels (list[PseudoLabels]): The pseudo-labels of the source
                views.
            clean (CleanPass): The step's clean pass (source views and their
                embeddings).
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
        """Encode views as the multi-crop references do (SwAV's code base,
        mmpretrain's ``SwAVNeck``): the backbone once per run of consecutive
        views of one resolution, the neck (and its batch norms) once over the
        features of all views concatenated, then L2 normalisation.

        Where the runs give feature maps of different sizes, each is
        average-pooled to 1×1 before the concatenation (the neck's own global
        pooling then leaves it unchanged), so the neck must pool globally.
        An algorithm that overrides :meth:`encode` gets its :meth:`encode` of
        each run instead.

        Args:
            views (list[torch.Tensor]): Views, each (N, 3, H, W).

        Returns:
            list[torch.Tensor]: One embedding per view.
        """
        if not views:
            return []
        groups = resolution_groups(views)
        if type(self).encode is not PseudoLabelAlgorithm.encode:
            return [
                emb for group in groups for emb in self.encode(
                    torch.cat([views[i] for i in group])).split(
                        [views[i].shape[0] for i in group])
            ]
        feats = [
            self.backbone(views[group[0]] if len(group) == 1 else torch.cat(
                [views[i] for i in group])) for group in groups
        ]
        if len(feats) == 1:
            merged = feats[0]
        else:
            merged = tuple(
                self._concat_features([f[level] for f in feats])
                for level in range(len(feats[0])))
        embeddings = F.normalize(self.neck(merged)[0], dim=1)
        return list(embeddings.split([v.shape[0] for v in views]))

    def _concat_features(self, maps: List[torch.Tensor]) -> torch.Tensor:
        """Concatenate one backbone level's features of several resolutions.

        Args:
            maps (list[torch.Tensor]): (N_i, C, h_i, w_i) maps of each run.

        Returns:
            torch.Tensor: The maps concatenated along the batch, pooled to
            1×1 first where their sizes differ.
        """
        if all(m.shape[1:] == maps[0].shape[1:] for m in maps):
            return torch.cat(maps)
        if not getattr(self.neck, 'with_avg_pool', True):
            raise ConfigError(
                f'{type(self).__name__}: views of several resolutions need a '
                'neck that pools globally (with_avg_pool=True), as the '
                'multi-crop references do.')
        return torch.cat([F.adaptive_avg_pool2d(m, 1) for m in maps])

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

    def clean_pass(self, inputs: List[torch.Tensor],
                   labels: List[PseudoLabels],
                   with_grads: bool) -> Tuple[torch.Tensor, CleanPass]:
        """The clean loss, and what its pass leaves for the generators.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            labels (list[PseudoLabels]): One per source view.
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
        extras = self.extra_views(inputs)
        with_grads = with_grads and not _fp16_autocast(sources[0].device)
        if with_grads:
            sources = [v.detach().requires_grad_(True) for v in sources]
        embeddings = self.encode_views(sources + extras)
        loss = self.clean_loss(embeddings, labels)
        grads = None
        if with_grads:
            loss, grads = self.clean_backward(loss, sources)
        return loss, CleanPass(
            views=[v.detach() for v in sources],
            embeddings=[e.detach() for e in embeddings[:len(sources)]],
            grads=grads,
            alone=not extras)

    def view_labels(self, inputs: List[torch.Tensor],
                    data_samples: List[DataSample]) -> List[PseudoLabels]:
        """:meth:`pseudo_labels`, one per source view.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            data_samples (list[DataSample]): The samples' meta information.

        Returns:
            list[PseudoLabels]: The pseudo-labels of each source view.
        """
        labels = self.pseudo_labels(inputs, data_samples)
        num = len(self.source_views(inputs))
        if isinstance(labels, PseudoLabels):
            return [labels] * num
        labels = list(labels)
        if len(labels) != num:
            raise ValueError(
                f'{type(self).__name__}.pseudo_labels gave {len(labels)} '
                f'PseudoLabels for {num} source views; give one, or one per '
                'source view.')
        return labels

    @torch.no_grad()
    def _reference_loss(self, clean: CleanPass, labels: List[PseudoLabels],
                        generator: BaseHardExample) -> torch.Tensor:
        """The hard-view loss of the clean views themselves: what a
        generator's loss rises from.

        Computed like the generator's own loss (:meth:`hard_view_loss`, in
        the generator's :meth:`~BaseHardExample.encoding`), so the rise is 0
        when a generator returns the clean views unchanged. The clean pass's
        embeddings are reused when they are exactly that.

        Args:
            clean (CleanPass): The clean pass.
            labels (list[PseudoLabels]): The clean targets.
            generator (BaseHardExample): The generator.

        Returns:
            torch.Tensor: The loss, detached.
        """
        if clean.alone and not generator.own_norms:
            losses = [
                self.pseudo_label_loss(self.classify(e, lab), lab.probs)
                for e, lab in zip(clean.embeddings, labels)
            ]
            return sum(losses) / len(losses)
        with generator.encoding(self), frozen_norm_stats(self):
            return self.hard_view_loss(clean.views, labels)

    def loss(self, inputs: List[torch.Tensor],
             data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Clean loss plus the weighted loss of each hard-example generator.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            data_samples (list[DataSample]): The samples' meta information.

        Returns:
            dict[str, torch.Tensor]: ``loss_clean``, ``loss_{name}`` per
            generator, and logged scalars (``{name}_rise``: hard-view loss
            minus the same loss of the clean views, and what each generator
            reports).
        """
        if not isinstance(inputs, (list, tuple)):
            raise TypeError('a self-supervised algorithm needs a list of '
                            'views; use MultiView in the train pipeline.')
        labels = self.view_labels(inputs, data_samples)
        clean_loss, clean = self.clean_pass(
            inputs, labels,
            any(g.needs_clean_grads for g in self.hard_examples))
        losses = {'loss_clean': clean_loss}
        shared_reference = None
        for generator in self.hard_examples:
            picked, picked_labels = generator.pick(clean, labels)
            views, hard_labels, scalars = generator(self, picked,
                                                    picked_labels)
            with generator.encoding(self):
                hard_loss = self.hard_view_loss(views, hard_labels)
            losses[f'loss_{generator.name}'] = generator.weight * hard_loss
            if generator.own_norms or generator.view_indices is not None:
                reference = self._reference_loss(picked, picked_labels,
                                                 generator)
            else:
                if shared_reference is None:
                    shared_reference = self._reference_loss(
                        clean, labels, generator)
                reference = shared_reference
            losses[f'{generator.name}_rise'] = hard_loss.detach() - reference
            losses.update(scalars)
        self.update_state(labels, clean, data_samples)
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
