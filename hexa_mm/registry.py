"""Registries of hexa_mm.

Each registry is a direct child of the root registry of its kind, in scope
``hexa_mm``, as mmdet's and mmseg's are: mmengine's scoped lookup searches
only the root's direct children, so ``type='hexa_mm.MoCoV2'`` or
``runner_type='hexa_mm.HexaRunner'`` resolves from mmengine's, mmpretrain's,
mmdet's or mmseg's registries (mmengine imports ``hexa_mm.registry`` on
meeting the scope). The root of every kind is mmengine's, except for
``BATCH_AUGMENTS`` and ``TOKENIZER``, whose root is mmpretrain's.

A name without a scope (``type='ResNet'``), looked up under
``default_scope='hexa_mm'``, is searched in hexa_mm first, then in mmpretrain's
registry of the same kind, which goes on to mmengine's: every mmpretrain and
mmengine type keeps reaching hexa_mm configs by its bare name, and hexa_mm's
types shadow theirs (hexa_mm's ``ColorJitter``).
"""
from typing import Optional, Type

from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'TOKENIZER', 'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS'
]


class HexaRegistry(Registry):
    """A child of a root registry that looks bare names up in mmpretrain's.

    mmengine's :meth:`~mmengine.registry.Registry.get` searches a bare name
    in the registry and then in its ancestors; a child of the root would so
    skip mmpretrain's registry. This one searches itself, then
    ``mmpretrain``'s registry (and, through it, mmpretrain's ancestors).
    Names with a scope are resolved as mmengine resolves them.

    Args:
        mmpretrain (Registry): mmpretrain's registry of the same kind; the
            new registry is a child of its root, in scope ``hexa_mm``.
        locations (list): Modules imported lazily to fill the registry.
    """

    def __init__(self, mmpretrain: Registry, locations: list) -> None:
        super().__init__(
            mmpretrain.name,
            parent=mmpretrain.root,
            scope='hexa_mm',
            locations=locations)
        self.mmpretrain = mmpretrain

    def get(self, key: str) -> Optional[Type]:
        """Get the registry record, as mmengine does, except that a bare
        name missing here is looked up in mmpretrain's registry.

        Args:
            key (str): The name of the registered item, with or without a
                scope (``'ResNet'``, ``'mmpretrain.ResNet'``).

        Returns:
            Type or None: The class or function registered under ``key``,
            or None if no registry on the search path has it.
        """
        scope, real_key = self.split_scope_key(key)
        if scope is None:
            self.import_from_location()
            if real_key not in self.module_dict:
                return self.mmpretrain.get(key)
        return super().get(key)


RUNNERS = HexaRegistry(mmpretrain_registry.RUNNERS, ['hexa_mm.engine'])
RUNNER_CONSTRUCTORS = HexaRegistry(mmpretrain_registry.RUNNER_CONSTRUCTORS,
                                   ['hexa_mm.engine'])
LOOPS = HexaRegistry(mmpretrain_registry.LOOPS, ['hexa_mm.engine'])
HOOKS = HexaRegistry(mmpretrain_registry.HOOKS, ['hexa_mm.engine'])
LOG_PROCESSORS = HexaRegistry(mmpretrain_registry.LOG_PROCESSORS,
                              ['hexa_mm.engine'])
OPTIMIZERS = HexaRegistry(mmpretrain_registry.OPTIMIZERS, ['hexa_mm.engine'])
OPTIM_WRAPPERS = HexaRegistry(mmpretrain_registry.OPTIM_WRAPPERS,
                              ['hexa_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = HexaRegistry(
    mmpretrain_registry.OPTIM_WRAPPER_CONSTRUCTORS, ['hexa_mm.engine'])
PARAM_SCHEDULERS = HexaRegistry(mmpretrain_registry.PARAM_SCHEDULERS,
                                ['hexa_mm.engine'])
DATASETS = HexaRegistry(mmpretrain_registry.DATASETS, ['hexa_mm.datasets'])
DATA_SAMPLERS = HexaRegistry(mmpretrain_registry.DATA_SAMPLERS,
                             ['hexa_mm.datasets'])
TRANSFORMS = HexaRegistry(mmpretrain_registry.TRANSFORMS,
                          ['hexa_mm.datasets'])
MODELS = HexaRegistry(mmpretrain_registry.MODELS, ['hexa_mm.models'])
MODEL_WRAPPERS = HexaRegistry(mmpretrain_registry.MODEL_WRAPPERS,
                              ['hexa_mm.models'])
WEIGHT_INITIALIZERS = HexaRegistry(mmpretrain_registry.WEIGHT_INITIALIZERS,
                                   ['hexa_mm.models'])
BATCH_AUGMENTS = HexaRegistry(mmpretrain_registry.BATCH_AUGMENTS,
                              ['hexa_mm.models'])
TASK_UTILS = HexaRegistry(mmpretrain_registry.TASK_UTILS, ['hexa_mm.models'])
TOKENIZER = HexaRegistry(mmpretrain_registry.TOKENIZER, ['hexa_mm.models'])
METRICS = HexaRegistry(mmpretrain_registry.METRICS, ['hexa_mm.evaluation'])
EVALUATORS = HexaRegistry(mmpretrain_registry.EVALUATORS,
                          ['hexa_mm.evaluation'])
VISUALIZERS = HexaRegistry(mmpretrain_registry.VISUALIZERS, [])
VISBACKENDS = HexaRegistry(mmpretrain_registry.VISBACKENDS, [])
