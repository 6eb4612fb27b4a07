"""An epoch-based training loop that a resumed run continues exactly."""
import itertools
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

from mmengine.dist import all_gather_object, get_dist_info
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from hexa_mm.registry import LOOPS
from hexa_mm.utils.errors import ConfigError
from .hooks.safe_checkpoint_hook import checkpoint_due
from .named_samples import NamedSamples
from .random_state import get_rng_state, sample_seed, seed_all, set_rng_state

__all__ = ['ResumableEpochBasedTrainLoop']

SeededIndex = Tuple[List[int], int]


class _SeededSamples(Dataset):
    """A data set whose samples seed the global generators before they are
    loaded: the augmentation of a sample depends only on its seed.

    Args:
        dataset (Dataset): The data set; indexed by ``(seed, index)``.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.samples = NamedSamples(dataset)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: SeededIndex) -> dict:
        """Seed, then load sample ``index``.

        Args:
            key (tuple): The seed words and the sample's index.

        Returns:
            dict: The sample.

        Raises:
            DataError: Naming the sample (and its file, when the data set
                knows it) if it cannot be loaded.
        """
        words, index = key
        seed_all(words)
        return self.samples[index]


class _SeededBatches(Sampler):
    """The batches of a batch sampler, each index paired with its sample's
    seed in ``epoch``; the first ``skip`` batches are left out (not loaded).

    Args:
        batch_sampler (Sampler): The data loader's batch sampler.
        seed (int): The run's seed.
    """

    def __init__(self, batch_sampler: Sampler, seed: int) -> None:
        self.batch_sampler = batch_sampler
        self.seed = seed
        self.epoch = 0
        self.skip = 0

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[List[SeededIndex]]:
        """The batches of ``epoch`` from batch ``skip`` on, both read now.

        Returns:
            Iterator[list[tuple]]: Batches of ``(seed, index)``.
        """
        epoch = self.epoch
        return ([
            (sample_seed(self.seed, epoch, index), index) for index in batch
        ] for batch in itertools.islice(self.batch_sampler, self.skip, None))


def _seeded_loader(loader: DataLoader, seed: int) -> Optional[DataLoader]:
    """A copy of a data loader that seeds every sample from
    ``(seed, epoch, index)``.

    Args:
        loader (DataLoader): The configured train data loader.
        seed (int): The run's seed.

    Returns:
        DataLoader, optional: The copy (same data set, batches, workers and
        collate function), or None for a loader without a batch sampler
        (an iterable data set, or no automatic batching).
    """
    if loader.batch_sampler is None or isinstance(loader.dataset,
                                                  IterableDataset):
        return None
    kwargs = dict(
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
        generator=loader.generator,
        persistent_workers=loader.persistent_workers,
        pin_memory_device=loader.pin_memory_device)
    if loader.num_workers > 0:
        kwargs['prefetch_factor'] = loader.prefetch_factor
    return DataLoader(
        _SeededSamples(loader.dataset),
        batch_sampler=_SeededBatches(loader.batch_sampler, seed),
        **kwargs)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """mmengine's epoch-based training loop, made exactly resumable.

    A run killed at any point and resumed from its last checkpoint ends with
    the same tensors, bit for bit on the CPU, as the run that was not
    interrupted. Three things make it so:

    * **Data augmentation** of each sample is seeded from ``(seed, epoch,
      sample index)``: Python's, numpy's and torch's generators are seeded
      before the sample is loaded, in the main process or in a data worker.
      What a sample becomes depends neither on the workers (their number,
      their state) nor on the batches before it.
    * **The training steps' own randomness** (MoCo's batch shuffle, CutMix
      boxes, ...) draws from the global generators, whose state this loop
      keeps between iterations: it is saved after every training step and
      put back before the next, so what runs in between (validation, hooks,
      a new data loader iterator) does not change it. Checkpoints hold this
      state for every process (``loop_state``, see :meth:`state_dict`) and
      a resumed run puts it back.
    * **Resuming inside an epoch**: the batches of the epoch that the
      checkpoint had already trained are skipped without being loaded, so
      the run goes on with the next batch of the same epoch order.

    An epoch of 0 iterations (a data set smaller than one global batch with
    ``drop_last=True``) is refused before training.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader or dict): The train data loader.
        max_epochs (int): Total training epochs.
        val_begin (int): The epoch that begins validating. Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1.
        dynamic_intervals (list[tuple[int, int]], optional): Milestones and
            validation intervals, as in mmengine. Defaults to None.
    """

    def __init__(
            self,
            runner,
            dataloader: Union[DataLoader, Dict],
            max_epochs: int,
            val_begin: int = 1,
            val_interval: int = 1,
            dynamic_intervals: Optional[List[Tuple[int, int]]] = None) -> None:
        super().__init__(runner, dataloader, max_epochs, val_begin,
                         val_interval, dynamic_intervals)
        if len(self.dataloader) == 0:
            raise ConfigError(self._no_batch_message())
        self._loader = _seeded_loader(self.dataloader, runner.seed)
        self._rng_state: Optional[dict] = None
        self._gathered: Optional[List[dict]] = None
        self._restored: Optional[dict] = None
        self._skip = 0

    def _no_batch_message(self) -> str:
        """Say why an epoch has no batch.

        Returns:
            str: The message.
        """
        loader = self.dataloader
        _, world_size = get_dist_info()
        batch_size = getattr(loader.batch_sampler, 'batch_size',
                             loader.batch_size)
        return (f'the train data loader gives 0 batches per epoch: '
                f'{len(loader.dataset)} samples, {len(loader.sampler)} a '
                f'process over {world_size} process(es), batch_size='
                f'{batch_size}, drop_last={loader.drop_last}: use a smaller '
                'train_dataloader.batch_size, fewer processes or more data')

    def state_dict(self) -> dict:
        """What a checkpoint needs to continue this run exactly.

        Called on process 0 while it saves a checkpoint. The generator
        states of every process are gathered at the iteration after which a
        checkpoint hook saves (see
        :func:`~hexa_mm.engine.hooks.safe_checkpoint_hook.checkpoint_due`);
        a checkpoint saved at another time by a distributed run holds only
        the layout, and resuming from it is not exact.

        Returns:
            dict: ``rng`` (one state per process, or None), ``world_size``
            and ``iters_per_epoch``.
        """
        _, world_size = get_dist_info()
        rng = self._gathered
        if rng is None and world_size == 1 and self._rng_state is not None:
            rng = [self._rng_state]
        return dict(
            rng=rng,
            world_size=world_size,
            iters_per_epoch=len(self.dataloader))

    def load_state_dict(self, state: Optional[dict]) -> None:
        """Keep a resumed checkpoint's :meth:`state_dict` for :meth:`run`.

        Args:
            state (dict, optional): The saved state, or None for a
                checkpoint without one (an older one).
        """
        self._restored = state if state is not None else {}

    def run(self):
        """Train, continuing exactly from a resumed checkpoint.

        Returns:
            nn.Module: The model.
        """
        self._rng_state = get_rng_state()
        if self._restored is not None:
            self._continue(self._restored)
            self._restored = None
        return super().run()

    def _continue(self, state: dict) -> None:
        """Take the state of a resumed checkpoint: the generators of this
        process and, inside an epoch, the batches to skip.

        Args:
            state (dict): The saved :meth:`state_dict` (empty if none).

        Raises:
            ConfigError: If the checkpoint was saved inside an epoch whose
                batches this run lays out differently (another number of
                processes or iterations per epoch).
        """
        rank, world_size = get_dist_info()
        iters_per_epoch = len(self.dataloader)
        saved = (state.get('world_size', world_size),
                 state.get('iters_per_epoch', iters_per_epoch))
        # counted in the checkpoint's epochs: one saved at an epoch's end
        # resumes with any layout
        done = self._iter - self._epoch * saved[1]
        if done and (not 0 < done < saved[1]
                     or saved != (world_size, iters_per_epoch)):
            raise ConfigError(
                f'the checkpoint was saved after {done} iterations of epoch '
                f'{self._epoch + 1} by {saved[0]} process(es) with '
                f'{saved[1]} iterations per epoch; this run has '
                f'{world_size} with {iters_per_epoch}: resume with the same '
                'number of processes, batch size and data, or from a '
                'checkpoint saved at the end of an epoch')
        rng = state.get('rng')
        if rng is not None and len(rng) == world_size:
            self._rng_state = rng[rank]
        else:
            self.runner.logger.warning(
                'The checkpoint holds no random generator state for '
                f'{world_size} process(es): the run continues, but not '
                'exactly as the interrupted one would have.')
        if done:
            self.runner.logger.info(
                f'Resuming inside epoch {self._epoch + 1}: its first {done} '
                'batches, trained before the checkpoint, are skipped.')
        self._skip = done

    @property
    def resumed_batches(self) -> int:
        """int: The batches of the current epoch that a resumed checkpoint
        had trained (0 at an epoch's start), once :meth:`run` has begun:
        hooks read it in ``before_train``."""
        return self._skip

    def run_epoch(self) -> None:
        """Iterate one epoch (from the resumed batch on, after a resume)."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        skip, self._skip = self._skip, 0
        if self._loader is None:
            batches = itertools.islice(enumerate(self.dataloader), skip, None)
        else:
            # the batch sampler reads both when the iterator is made
            sampler = self._loader.batch_sampler
            sampler.epoch, sampler.skip = self._epoch, skip
            batches = enumerate(self._loader, skip)
        for idx, data_batch in batches:
            set_rng_state(self._rng_state)
            self.run_iter(idx, data_batch)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_iter(self, idx: int, data_batch: Sequence[dict]) -> None:
        """Iterate one batch; keep the generators' state after the step.

        Args:
            idx (int): The batch's index in the epoch.
            data_batch (Sequence[dict]): The batch.
        """
        self.runner.call_hook(
            'before_train_iter', batch_idx=idx, data_batch=data_batch)
        outputs = self.runner.model.train_step(
            data_batch, optim_wrapper=self.runner.optim_wrapper)
        self._rng_state = get_rng_state()
        self._gather(idx)
        self.runner.call_hook(
            'after_train_iter',
            batch_idx=idx,
            data_batch=data_batch,
            outputs=outputs)
        self._iter += 1

    def _gather(self, idx: int) -> None:
        """Gather every process's generator state if a checkpoint is saved
        after this iteration or after this epoch (a collective call).

        Args:
            idx (int): The batch's index in the epoch.
        """
        self._gathered = None
        _, world_size = get_dist_info()
        if world_size == 1:
            return
        end_of_epoch = idx + 1 == len(self.dataloader)
        if checkpoint_due(
                self.runner,
                by_epoch=False) or (end_of_epoch and checkpoint_due(
                    self.runner, by_epoch=True)):
            self._gathered = all_gather_object(self._rng_state)
