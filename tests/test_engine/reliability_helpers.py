"""A hook that stops a training run at a chosen point, for
``test_reliability.py``; its workers import it through ``custom_imports``.

It draws no random numbers and changes no state (but the checkpoint it
kills the run inside), so a run with it is the run without it up to where
it stops.
"""
import glob
import os
import os.path as osp
import signal
import threading
import time
from typing import Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from hexa_mm.registry import HOOKS

# the temporary file of a save must hold this much before the kill
TORN_BYTES = 1 << 20
# what the checkpoint to be torn carries more (a zero tensor), so that its
# write lasts long enough to be caught half-way whatever the network's size
PADDING_BYTES = 64 << 20


@HOOKS.register_module()
class StopHereHook(Hook):
    """Stop a run where a test wants to kill it.

    Every process writes its pid to ``marker_dir/pid{rank}`` when training
    starts.

    Args:
        marker_dir (str): Where the markers go.
        block_after_iter (int, optional): After this iteration (from 1),
            process 0 writes ``marker_dir/stopped`` and waits for the test
            to kill every process. Defaults to None.
        kill_in_save_at_iter (int, optional): While process 0 writes the
            checkpoint whose ``meta['iter']`` is this (once its temporary
            file holds ``TORN_BYTES``), it sends itself SIGKILL; that
            checkpoint, never complete, gets ``PADDING_BYTES`` more under
            ``meta['padding']``. Defaults to None.
    """

    priority = 'LOWEST'

    def __init__(self,
                 marker_dir: str,
                 block_after_iter: Optional[int] = None,
                 kill_in_save_at_iter: Optional[int] = None) -> None:
        self.marker_dir = marker_dir
        self.block_after_iter = block_after_iter
        self.kill_in_save_at_iter = kill_in_save_at_iter

    def before_train(self, runner) -> None:
        os.makedirs(self.marker_dir, exist_ok=True)
        with open(osp.join(self.marker_dir, f'pid{get_rank()}'), 'w') as f:
            f.write(str(os.getpid()))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 != self.block_after_iter or get_rank() != 0:
            return
        with open(osp.join(self.marker_dir, 'stopped'), 'w') as f:
            f.write(str(runner.iter + 1))
        while True:
            time.sleep(1)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta']['iter'] != self.kill_in_save_at_iter:
            return
        checkpoint['meta']['padding'] = torch.zeros(
            PADDING_BYTES, dtype=torch.uint8)
        pattern = osp.join(runner.work_dir, '.tmp-*.pth')

        def kill_when_torn() -> None:
            while True:
                for path in glob.glob(pattern):
                    if osp.getsize(path) >= TORN_BYTES:
                        os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(0.0005)

        threading.Thread(target=kill_when_torn, daemon=True).start()
