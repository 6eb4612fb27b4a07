# Runtime shared by every hexa_mm config.
default_scope = 'hexa_mm'
# HexaRunner: gloo on CPU-only machines, weights-only checkpoint loading. The
# scope lets any entry point (mmpretrain's tools/train.py too) resolve it.
runner_type = 'hexa_mm.HexaRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic saves; latest.pth every 30 minutes (latest_interval /
    # latest_minutes) for preempted jobs, resumed inside the epoch
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # fails fast on a setup the algorithm cannot train with
    setup_check=dict(type='TrainSetupCheckHook'),
    # stops at the first non-finite loss, before a checkpoint is saved
    finite_loss=dict(type='FiniteLossHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; HexaRunner switches to gloo where CUDA is absent
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=True, window_size=10)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
