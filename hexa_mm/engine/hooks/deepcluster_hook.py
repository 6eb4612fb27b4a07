"""DeepCluster-v2's memory bank and clustering across the training run."""
import time
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from hexa_mm.models.algorithms import BankClustering
from hexa_mm.models.utils import assignment_table, spherical_kmeans
from hexa_mm.registry import HOOKS
from hexa_mm.utils import ConfigError
from ..named_samples import NamedSamples
from .safe_checkpoint_hook import checkpoint_due

DATA_BATCH = Optional[Sequence[dict]]


@HOOKS.register_module()
class DeepClusterHook(Hook):
    """Fill, cluster and checkpoint the memory bank of
    :class:`hexa_mm.models.DeepClusterV2`, or of any algorithm that
    implements :class:`hexa_mm.models.BankClustering`, the only calls this
    hook makes.

    * **Before training**: an empty bank for the training set, then one pass
      over the data (every sample the train sampler yields, the last partial
      batch included; a progress bar on rank 0 unless ``progress`` is
      False; a sample that cannot be loaded is named on one line) that
      embeds the assignment crops into it. A resumed run loads the bank
      from the checkpoint instead.
    * **At each epoch start**: spherical k-means
      (:func:`hexa_mm.models.utils.spherical_kmeans`) of each prototype set
      on the bank of its crop, distributed over the processes; the centroids
      become the prototypes and every sample gets its cluster
      (``set_clusters``). The log gets, per set, the number of
      clustered samples, of empty clusters and the cluster sizes (min,
      median, max); the visualiser gets them as scalars.
    * **Checkpoints**: the bank of every process, gathered into tables
      indexed by ``sample_idx``, and the assignments are saved by the
      algorithm (``save_clusters``; DeepClusterV2: under the key
      ``deepcluster``); the prototypes are a model buffer. The gathering is
      collective and a checkpoint is written by rank 0 alone, so it happens
      after the epoch (or iteration) at which a checkpoint hook is about
      to save (:func:`~hexa_mm.engine.hooks.checkpoint_due`). A resumed run
      continues from them: the clusters of its first epoch are those the
      uninterrupted run computes, and a run resumed inside an epoch keeps
      that epoch's clusters.

    Args:
        num_iters (int): k-means iterations. Defaults to 10.
        chunk_size (int): Bank rows scored at a time by k-means (bounds its
            memory to ``chunk_size * K`` scores). Defaults to 4096.
        progress (bool): Show the bank fill's progress bar (rank 0, on
            standard output). Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self,
                 num_iters: int = 10,
                 chunk_size: int = 4096,
                 progress: bool = True) -> None:
        if num_iters < 1 or chunk_size < 1:
            raise ConfigError(
                f'DeepClusterHook: num_iters={num_iters} and chunk_size='
                f'{chunk_size} must be >= 1.')
        self.num_iters = num_iters
        self.chunk_size = chunk_size
        self.progress = progress
        self._restored: Optional[dict] = None
        self._keep_clusters = False
        self._gathered: Optional[dict] = None

    @staticmethod
    def _model(runner) -> BankClustering:
        """The clustering model of the runner, unwrapped.

        Args:
            runner (Runner): The runner.

        Returns:
            BankClustering: The model.
        """
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if not isinstance(model, BankClustering):
            raise ConfigError(
                'DeepClusterHook needs a DeepClusterV2 model (a '
                f'BankClustering algorithm); got {type(model).__name__}.')
        return model

    def before_train(self, runner) -> None:
        """Start the bank: load it when resuming, else fill it.

        Args:
            runner (Runner): The runner.
        """
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise ConfigError(
                'DeepClusterHook clusters at each epoch start: use an '
                'epoch-based train loop (train_cfg=dict(by_epoch=True, ...)).')
        model = self._model(runner)
        bank = model.init_memory_bank(len(runner.train_dataloader.dataset))
        state, self._restored = self._restored, None
        if runner.iter > 0 and state is not None:
            model.restore_clusters(state)
            # resumed inside an epoch: that epoch's clusters are these
            self._keep_clusters = self._resumed_batches(runner) > 0
            runner.logger.info(
                'DeepClusterHook: memory bank of '
                f'{self._num_held(bank)} samples restored from the checkpoint.'
            )
            return
        if runner.iter > 0:
            runner.logger.warning(
                'DeepClusterHook: the checkpoint has no DeepCluster state; '
                'filling the memory bank again.')
        self._fill(runner, model)

    @staticmethod
    def _resumed_batches(runner) -> int:
        """The batches of the current epoch a resumed run had trained.

        Args:
            runner (Runner): The runner, in ``before_train``.

        Returns:
            int: What hexa_mm's train loop says (it knows the checkpoint's
            iterations per epoch, which may differ from this run's); for
            another loop, counted in this run's iterations per epoch.
        """
        done = getattr(runner.train_loop, 'resumed_batches', None)
        if done is None:
            done = runner.iter - runner.epoch * len(runner.train_dataloader)
        return done

    @torch.no_grad()
    def _fill(self, runner, model: BankClustering) -> None:
        """Embed every sample the train sampler yields into the bank.

        Args:
            runner (Runner): The runner.
            model (BankClustering): The model.
        """
        loader = runner.train_dataloader
        fill_loader = DataLoader(
            NamedSamples(loader.dataset),
            batch_size=loader.batch_size or loader.batch_sampler.batch_size,
            sampler=loader.sampler,
            num_workers=loader.num_workers,
            collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory,
            worker_init_fn=loader.worker_init_fn,
            drop_last=False)
        runner.logger.info('DeepClusterHook: filling the memory bank '
                           f'({len(fill_loader)} batches per process).')
        start = time.time()
        bar = ProgressBar(len(fill_loader)) \
            if self.progress and runner.rank == 0 else None
        model.train()
        try:
            for data_batch in fill_loader:
                data = model.data_preprocessor(data_batch, True)
                model.fill_memory_bank(data['inputs'], data['data_samples'])
                if bar is not None:
                    bar.update()
        finally:
            if bar is not None:  # end its line: an error starts a new one
                print(flush=True)
        model.memory_bank.sync()
        runner.logger.info(f'DeepClusterHook: memory bank filled with '
                           f'{self._num_held(model.memory_bank)} samples in '
                           f'{time.time() - start:.1f} s.')

    @staticmethod
    def _num_held(bank) -> int:
        """How many samples ``bank`` (a MemoryBank) holds over all processes,
        each once after a sync.

        Returns:
            int: The total.
        """
        count = torch.tensor([len(bank)], device=bank.device)
        all_reduce(count)
        return int(count)

    @torch.no_grad()
    def before_train_epoch(self, runner) -> None:
        """Cluster the bank; install prototypes and assignments.

        A run resumed inside an epoch keeps the clusters of that epoch, which
        it loaded from the checkpoint.

        Args:
            runner (Runner): The runner.
        """
        model = self._model(runner)
        if self._keep_clusters:
            self._keep_clusters = False
            runner.logger.info(
                f'DeepClusterHook: epoch {runner.epoch + 1} resumed inside; '
                'its clusters come from the checkpoint.')
            return
        bank = model.memory_bank
        bank.sync()
        start = time.time()
        centroids, tables, scalars = [], [], {}
        for h, (num_clusters, crop, view) in enumerate(model.prototype_sets()):
            result = spherical_kmeans(
                bank.embeddings[crop],
                num_clusters,
                self.num_iters,
                index=bank.index,
                num_samples=bank.num_samples,
                seed=self._seed(runner, h),
                chunk_size=self.chunk_size)
            centroids.append(result.centroids)
            tables.append(
                assignment_table(result.assignments, bank.index,
                                 bank.num_samples))
            sizes = result.counts.float()
            stats = dict(
                empty=result.num_empty,
                min_size=int(sizes.min()),
                median_size=float(sizes.median()),
                max_size=int(sizes.max()))
            runner.logger.info(
                f'DeepClusterHook: epoch {runner.epoch + 1}, prototype set '
                f'{h} (K={num_clusters}, crop {view}): '
                f'{int(result.counts.sum())} samples, {stats["empty"]} empty '
                f'clusters, sizes min {stats["min_size"]} / median '
                f'{stats["median_size"]:g} / max {stats["max_size"]}.')
            scalars.update({
                f'deepcluster/set{h}_{k}': v
                for k, v in stats.items()
            })
        model.set_clusters(centroids, torch.stack(tables))
        runner.logger.info(f'DeepClusterHook: clustering took '
                           f'{time.time() - start:.1f} s.')
        runner.visualizer.add_scalars(scalars, step=runner.iter)

    @staticmethod
    def _seed(runner, prototype_set: int) -> int:
        """The k-means seed of an epoch and set, the same on every process.

        Args:
            runner (Runner): The runner (its seed and epoch).
            prototype_set (int): The prototype set.

        Returns:
            int: The seed.
        """
        base = runner.seed if runner.seed is not None else 0
        return (base * 1_000_003 + runner.epoch * 1_009 +
                prototype_set) % 2**63

    def _gather(self, runner, by_epoch: bool) -> None:
        """Gather the bank (collectively) if a checkpoint is saved after this
        iteration or epoch; rank 0 keeps it for the save.

        Args:
            runner (Runner): The runner.
            by_epoch (bool): Called after an epoch (True) or an iteration.
        """
        if checkpoint_due(runner, by_epoch):
            state = self._model(runner).memory_bank.gather()
            self._gathered = state if runner.rank == 0 else None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Gather the bank if a checkpoint is saved after this iteration
        (of mmengine's arguments, only ``runner`` is used)."""
        self._gather(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        """Gather the bank if a checkpoint is saved after this epoch.

        Args:
            runner (Runner): The runner.
        """
        self._gather(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint: Dict) -> None:
        """Let the model save the gathered bank and its clusters.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint about to be saved.
        """
        model = self._model(runner)
        state, self._gathered = self._gathered, None
        if model.memory_bank is None:
            return
        if state is None:
            if get_world_size() > 1:
                runner.logger.warning(
                    'DeepClusterHook: a checkpoint saved outside '
                    "CheckpointHook's schedule holds no memory bank (it can "
                    'only be gathered from every process at a scheduled '
                    'save); resuming from it fills the bank again.')
                return
            state = model.memory_bank.gather()
        model.save_clusters(checkpoint, state)

    def after_load_checkpoint(self, runner, checkpoint: Dict) -> None:
        """Keep the clustering state of a loaded checkpoint for
        :meth:`before_train`, which uses it only when resuming.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The loaded checkpoint.
        """
        self._restored = self._model(runner).saved_clusters(checkpoint)
