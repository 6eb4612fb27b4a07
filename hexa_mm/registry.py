"""Registries of hexa_mm.

Each registry is a child of mmpretrain's registry of the same kind (which is a
child of mmengine's), so a config with ``default_scope='hexa_mm'`` reaches
every hexa_mm, mmpretrain and mmengine type. mmpretrain's ``BATCH_AUGMENTS``
and ``TOKENIZER`` have no parent in mmengine; ours are children of them all the
same.
"""
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'TOKENIZER', 'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS'
]


def _child(parent: Registry, locations: list) -> Registry:
    """Make a hexa_mm child of one of mmpretrain's registries.

    Args:
        parent (Registry): The mmpretrain registry to inherit from.
        locations (list): Modules imported lazily to fill the registry.

    Returns:
        Registry: The child registry, in scope ``hexa_mm``.
    """
    return Registry(
        parent.name, parent=parent, scope='hexa_mm', locations=locations)


RUNNERS = _child(mmpretrain_registry.RUNNERS, ['hexa_mm.engine'])
RUNNER_CONSTRUCTORS = _child(mmpretrain_registry.RUNNER_CONSTRUCTORS,
                             ['hexa_mm.engine'])
LOOPS = _child(mmpretrain_registry.LOOPS, ['hexa_mm.engine'])
HOOKS = _child(mmpretrain_registry.HOOKS, ['hexa_mm.engine'])
LOG_PROCESSORS = _child(mmpretrain_registry.LOG_PROCESSORS,
                        ['hexa_mm.engine'])
OPTIMIZERS = _child(mmpretrain_registry.OPTIMIZERS, ['hexa_mm.engine'])
OPTIM_WRAPPERS = _child(mmpretrain_registry.OPTIM_WRAPPERS,
                        ['hexa_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child(
    mmpretrain_registry.OPTIM_WRAPPER_CONSTRUCTORS, ['hexa_mm.engine'])
PARAM_SCHEDULERS = _child(mmpretrain_registry.PARAM_SCHEDULERS,
                          ['hexa_mm.engine'])
DATASETS = _child(mmpretrain_registry.DATASETS, ['hexa_mm.datasets'])
DATA_SAMPLERS = _child(mmpretrain_registry.DATA_SAMPLERS,
                       ['hexa_mm.datasets'])
TRANSFORMS = _child(mmpretrain_registry.TRANSFORMS, ['hexa_mm.datasets'])
MODELS = _child(mmpretrain_registry.MODELS, ['hexa_mm.models'])
MODEL_WRAPPERS = _child(mmpretrain_registry.MODEL_WRAPPERS,
                        ['hexa_mm.models'])
WEIGHT_INITIALIZERS = _child(mmpretrain_registry.WEIGHT_INITIALIZERS,
                             ['hexa_mm.models'])
BATCH_AUGMENTS = _child(mmpretrain_registry.BATCH_AUGMENTS,
                        ['hexa_mm.models'])
TASK_UTILS = _child(mmpretrain_registry.TASK_UTILS, ['hexa_mm.models'])
TOKENIZER = _child(mmpretrain_registry.TOKENIZER, ['hexa_mm.models'])
METRICS = _child(mmpretrain_registry.METRICS, ['hexa_mm.evaluation'])
EVALUATORS = _child(mmpretrain_registry.EVALUATORS, ['hexa_mm.evaluation'])
VISUALIZERS = _child(mmpretrain_registry.VISUALIZERS, [])
VISBACKENDS = _child(mmpretrain_registry.VISBACKENDS, [])
