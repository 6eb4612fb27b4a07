"""tools/analysis/hexa_quality.py: the study's pieces and a tiny run."""
import json
import sys
import time
from pathlib import Path

import pytest

from hexa_mm.evaluation import paired_difference
from hexa_mm.utils import ConfigError

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools/analysis'))
import hexa_quality  # noqa: E402


@pytest.fixture(autouse=True)
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def test_quick_is_two_seeds_of_moco_and_hexa_moco() -> None:
    args = hexa_quality.parse_args(['--quick'])
    assert args.seeds == [0, 1] and args.studies == ['main']
    assert set(args.variants) == {'mocov2', 'hexa-mocov2'}
    full = hexa_quality.parse_args(['--full'])
    assert full.studies == ['main', 'wallclock', 'sweep']
    assert full.seeds == [0, 1, 2] and full.epochs is None
    # the sweep is sized down: one seed, 10 epochs, unless told otherwise
    assert full.sweep_seeds == [0] and full.sweep_epochs == 10
    told = hexa_quality.parse_args(
        ['--full', '--sweep-seeds', '1', '2', '--sweep-epochs', '20'])
    assert told.sweep_seeds == [1, 2] and told.sweep_epochs == 20


def test_sweep_rows_pair_with_bases_trained_like_them() -> None:
    args = hexa_quality.parse_args(['--full', '--sweep-seeds', '0', '1'])
    names = ['moco-adv-eps4-steps1', 'dcluster-adv']
    jobs = hexa_quality.sweep_jobs(names, args)
    rows = {(j['name'], j['seed']) for j in jobs}
    assert rows == {(n, s)
                    for n in names + ['mocov2', 'deepclusterv2']
                    for s in (0, 1)}
    assert {j['epochs'] for j in jobs} == {10}
    assert {tuple(j['splits']) for j in jobs} == {('val', )}
    main_moco = hexa_quality.make_jobs(['mocov2'], hexa_quality.MAIN, args,
                                       [0], ('val', ), 10**6)
    # the sweep's base is not the main study's (other epochs): other key
    sweep_moco = [j for j in jobs if j['name'] == 'mocov2' and not j['seed']]
    assert sweep_moco[0]['key'] != main_moco[0]['key']


def test_every_variant_builds_and_pairs_with_its_base() -> None:
    for table in (hexa_quality.MAIN, hexa_quality.SWEEP):
        for name, spec in table.items():
            cfg = hexa_quality.build_cfg(spec, None, None)
            names = [g['name'] for g in cfg.model.hard_examples]
            assert bool(names) == (spec['base'] is not None), name
            if spec['base'] is not None:
                base = hexa_quality.MAIN[spec['base']]
                base_cfg = hexa_quality.build_cfg(base, None, None)
                # only the generators differ within an algorithm
                cfg.model.hard_examples = []
                assert cfg.model == base_cfg.model, name
                assert cfg.train_dataloader == base_cfg.train_dataloader


def test_sweep_sets_the_attack_and_keeps_only_the_named_generator() -> None:
    spec = hexa_quality.SWEEP['moco-adv-eps8-steps3']
    cfg = hexa_quality.build_cfg(spec, epochs=3, images=64)
    (adv, ) = cfg.model.hard_examples
    assert adv['name'] == 'adv' and adv['steps'] == 3
    assert adv['eps'] == pytest.approx(8 / 255)
    # PGD steps of 2.5 eps / steps
    assert adv['step_size'] == pytest.approx(2.5 * 8 / 3 / 255)
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.param_scheduler[-1]['T_max'] == 3
    assert cfg.train_dataloader.dataset.indices == 64
    one = hexa_quality.build_cfg(hexa_quality.SWEEP['moco-adv-eps4-steps1'],
                                 None, None)
    assert one.model.hard_examples[0]['step_size'] == pytest.approx(4 / 255)
    bad = hexa_quality.variant(hexa_quality.HEXA_MOCO, 'mocov2', keep=['mix'])
    with pytest.raises(ConfigError, match="no generator 'mix'"):
        hexa_quality.build_cfg(bad, None, None)


def test_summarise_pairs_runs_by_seed() -> None:
    def run(seed, val, test):
        return dict(seed=seed, epochs=1, train_s=1.0,
                    val=dict(knn=val, few_shot=val),
                    test=dict(knn=test, few_shot=test))

    runs = {
        'base': [run(0, 80, 70), run(1, 90, 75), run(2, 85, 72)],
        # listed in another order: pairing must follow the seed
        'hexa': [run(2, 86, 74), run(0, 82, 70), run(1, 90, 80)],
    }
    got = hexa_quality.summarise(runs, [('hexa', 'base')], ('val', 'test'))
    (diff, ) = got['paired']
    assert diff['test']['few_shot']['mean'] == pytest.approx(
        paired_difference([70, 80, 74], [70, 75, 72])['mean'])
    assert diff['val']['knn']['low'] == pytest.approx(
        paired_difference([82, 90, 86], [80, 90, 85])['low'])
    assert got['rows']['hexa']['val']['knn']['mean'] == pytest.approx(86)


def test_baselines_measure_one_random_network_per_seed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # what each measurement sees, instead of a kNN run: the network's
    # weights (a fingerprint) and whether the pixels were asked for
    def fake_measure(model, loader, pixels=False):
        weights = sum(p.double().sum().item() for p in model.parameters())
        return dict(knn=weights, few_shot=float(pixels), split=loader)

    monkeypatch.setattr(hexa_quality, 'measure', fake_measure)
    monkeypatch.setattr(hexa_quality, 'eval_loader', lambda cfg, split: split)
    rows = hexa_quality.baselines([0, 1])
    (pixels, ) = rows['raw pixels']
    assert pixels['seed'] is None and pixels['test']['few_shot'] == 1.0
    assert {s: pixels[s]['split'] for s in ('val', 'test')} == {
        'val': 'val',
        'test': 'test'
    }
    first, second = rows['random init']
    assert (first['seed'], second['seed']) == (0, 1)
    assert first['val']['few_shot'] == 0.0
    # one network per seed, measured on both splits: two networks differ
    assert first['val']['knn'] == first['test']['knn']
    assert first['val']['knn'] != second['val']['knn']
    # each network follows its own seed, not its place in the list
    (alone, ) = hexa_quality.baselines([1])['random init']
    assert alone == second


def test_bad_input_is_one_error_line(capsys: pytest.CaptureFixture) -> None:
    assert hexa_quality.main(['--variants', 'nope']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: unknown variants')
    assert hexa_quality.main(['--epochs', '0']) == 2
    assert 'error: --epochs=0' in capsys.readouterr().err
    assert hexa_quality.main(['--reuse', 'missing.json']) == 2
    assert 'error: --reuse missing.json' in capsys.readouterr().err


def test_quick_pieces_in_process(tmp_path: Path,
                                 capsys: pytest.CaptureFixture) -> None:
    # what --quick runs, at one step per epoch, without worker processes
    args = hexa_quality.parse_args(['--quick'])
    args.seeds, args.epochs, args.images = [0], 1, 64
    jobs = hexa_quality.make_jobs(args.variants, hexa_quality.MAIN, args,
                                  args.seeds, ('val', ), args.curve_every)
    runs = {j['name']: [hexa_quality.train_and_measure(j)] for j in jobs}
    hexa = runs['hexa-mocov2'][0]
    assert hexa['epochs'] == 1 and hexa['curve'][0]['epoch'] == 1
    assert {'loss_clean', 'loss_cutmix', 'loss_adv'} <= set(hexa['terms'][0])
    assert 'loss_adv' not in runs['mocov2'][0]['terms'][0]
    # the last curve point and the final measurement see the same network
    assert hexa['curve'][-1]['few_shot'] == pytest.approx(
        hexa['val']['few_shot'])
    summary = hexa_quality.summarise(runs, [('hexa-mocov2', 'mocov2')],
                                     ('val', ))
    (diff, ) = summary['paired']
    assert diff['val']['knn']['mean'] == pytest.approx(
        hexa['val']['knn'] - runs['mocov2'][0]['val']['knn'])
    hexa_quality.print_table('quick', summary, ('val', ))
    assert 'hexa-mocov2 - mocov2' in capsys.readouterr().out
    # a finished run is taken from --reuse, not trained again
    reuse = {j['key']: runs[j['name']][0] for j in jobs}
    again = hexa_quality.run_jobs(jobs, 1, reuse)
    assert [r['reused'] for r in again] == [True, True]
    assert again[1]['val'] == runs[jobs[1]['name']][0]['val']
    pixels = [dict(val=dict(knn=90.0, few_shot=80.0))]
    hexa_quality.plot_curves(runs, {
        'raw pixels': pixels,
        'random init': pixels
    }, str(tmp_path / 'curves.png'))
    assert (tmp_path / 'curves.png').stat().st_size > 10_000


@pytest.mark.integration
def test_tiny_study_writes_json_table_and_figure(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # the --quick path at the smallest size: one seed, one step per epoch,
    # stopped by a failure after the runs, then started again; one worker
    # process (each is a cold start). Rows of several seeds, paired by seed:
    # test_summarise_pairs_runs_by_seed; baselines of several seeds:
    # test_baselines_measure_one_random_network_per_seed
    argv = [
        '--variants', 'mocov2', 'hexa-mocov2', '--seeds', '0',
        '--epochs', '1', '--images', '64', '--curve-every', '1', '--jobs',
        '1', '--out',
        str(tmp_path)
    ]

    def broken(*args):
        raise OSError('disk full')

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hexa_quality, 'plot_curves', broken)
        with pytest.raises(OSError, match='disk full'):
            hexa_quality.main(argv)
    journal = tmp_path / hexa_quality.JOURNAL
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    # the baselines first (measured before any run), then the runs
    assert sorted(lines[0]['rows']) == ['random init', 'raw pixels']
    assert len(lines[0]['rows']['random init']) == 1
    finished = lines[1:]
    assert sorted((r['name'], r['seed'])
                  for r in finished) == [('hexa-mocov2', 0), ('mocov2', 0)]
    capsys.readouterr()
    assert hexa_quality.main(argv) == 0
    out = capsys.readouterr().out
    assert '2 finished runs of an interrupted study' in out
    assert 'baselines (raw pixels, random init) carried over' in out
    assert out.count(', reused)') == 2 and not journal.exists()
    assert 'hexa-mocov2 - mocov2' in out and 'raw pixels' in out
    report = json.loads((tmp_path / 'results.json').read_text())
    runs = report['runs']
    assert [r['seed'] for r in runs['hexa-mocov2']] == [0]
    for run in runs['hexa-mocov2']:
        assert run['curve'][0]['epoch'] == 1
        terms = run['terms'][0]
        assert {'loss_clean', 'loss_cutmix', 'loss_adv'} <= set(terms)
    (diff, ) = report['summary']['paired']
    by_seed = {r['seed']: r for r in runs['mocov2']}
    expected = paired_difference(
        [r['test']['few_shot'] for r in runs['hexa-mocov2']],
        [by_seed[r['seed']]['test']['few_shot'] for r in runs['hexa-mocov2']])
    assert diff['test']['few_shot']['mean'] == pytest.approx(
        expected['mean'])
    assert len(report['baselines']['random init']) == 1
    assert (tmp_path / 'curves.png').stat().st_size > 10_000
    assert {r['train_s'] for r in runs['mocov2']} == {
        r['train_s'] for r in finished if r['name'] == 'mocov2'}
    # a second run takes the finished runs instead of training them again
    again = tmp_path / 'again'
    assert hexa_quality.main([
        '--variants', 'mocov2', 'hexa-mocov2', '--seeds', '0', '--epochs',
        '1', '--images', '64', '--curve-every', '1', '--out',
        str(again), '--reuse',
        str(tmp_path / 'results.json')
    ]) == 0
    out = capsys.readouterr().out
    assert out.count(', reused)') == 2
    assert 'baselines (raw pixels, random init) carried over' in out
    second = json.loads((again / 'results.json').read_text())
    assert second['summary']['paired'] == report['summary']['paired']
    assert second['baselines'] == report['baselines']


def test_journal_skips_a_line_cut_short_by_a_kill(tmp_path: Path) -> None:
    journal = tmp_path / hexa_quality.JOURNAL
    assert hexa_quality.load_journal(str(journal)) == {}
    journal.write_text(
        json.dumps(dict(key='a', seed=0)) + '\n' +
        json.dumps(dict(key='b', seed=1)) + '\n{"key": "c", "se')
    assert hexa_quality.load_journal(str(journal)) == {
        'a': dict(key='a', seed=0),
        'b': dict(key='b', seed=1)
    }


def test_hexa_variants_warm_up_and_the_ablation_and_bases_do_not() -> None:
    def warmups(name: str) -> list:
        cfg = hexa_quality.build_cfg(hexa_quality.MAIN[name], None, None)
        return [
            h for h in cfg.get('custom_hooks', [])
            if h['type'] == 'HardExampleWarmupHook'
        ]

    assert [h['epochs'] for h in warmups('hexa-mocov2')] == [10]
    assert warmups('hexa-mocov2-no-warmup') == []
    assert warmups('mocov2') == []
    assert [h['epochs'] for h in warmups('hexa-deepclusterv2')] == [10]
    assert warmups('deepclusterv2') == []


def test_wallclock_epochs_from_the_times_or_a_measured_ratio() -> None:
    def rows(epochs: int, *seconds: float) -> list:
        return [dict(epochs=epochs, train_s=s) for s in seconds]

    runs = {
        'mocov2': rows(40, 100, 300),  # mean 200
        'hexa-mocov2': rows(40, 700, 900),  # mean 800: 4x
        'deepclusterv2': rows(40, 1500),  # trained under another load
        'hexa-deepclusterv2': rows(40, 1125),
    }
    assert hexa_quality.wallclock_epochs(runs) == dict(
        mocov2=160, deepclusterv2=30)
    ratios = hexa_quality.parse_ratios(['deepclusterv2=3.9'])
    assert hexa_quality.wallclock_epochs(runs, ratios) == dict(
        mocov2=160, deepclusterv2=156)
    for bad in ('deepclusterv2', 'deepclusterv2=0', 'mocov2=x', 'swav=2'):
        with pytest.raises(ConfigError, match='--time-ratio'):
            hexa_quality.check_args(
                hexa_quality.parse_args(['--time-ratio', bad]))


def fake_run(job: dict) -> dict:
    """Stands for train_and_measure in forked workers: ``broken`` fails, the
    others leave a marker and a result."""
    if job['name'] == 'broken':
        raise RuntimeError('loss diverged')
    time.sleep(0.2)
    Path(job['marker']).write_text('ran')
    return dict(name=job['name'], key=job['key'], seed=0, epochs=1,
                train_s=0.2, val=dict(knn=50.0, few_shot=40.0))


def test_a_failed_run_stops_the_study_and_keeps_the_finished_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hexa_quality, 'START_METHOD', 'fork')
    monkeypatch.setattr(hexa_quality, 'train_and_measure', fake_run)
    names = ['broken'] + [f'run{i}' for i in range(7)]
    (tmp_path / 'ran').mkdir()
    # the longest first: the failure comes first, seven runs wait
    jobs = [
        dict(name=name, key=name, cost=len(names) - i, splits=['val'],
             marker=str(tmp_path / 'ran' / name))
        for i, name in enumerate(names)
    ]
    journal = tmp_path / hexa_quality.JOURNAL
    with pytest.raises(RuntimeError, match='loss diverged'):
        hexa_quality.run_jobs(jobs, 1, journal=str(journal))
    ran = sorted(p.name for p in (tmp_path / 'ran').iterdir())
    # only what was already handed to the worker ran (the executor queues
    # up to two calls ahead); every run that ended is in the journal
    assert len(ran) <= 3
    assert sorted(hexa_quality.load_journal(str(journal))) == ran


def test_one_seed_prints_no_interval() -> None:
    one = hexa_quality.fmt_diff(paired_difference([91.0], [90.5]))
    assert 'nan' not in one and 'one seed' in one and '+0.50' in one
    two = hexa_quality.fmt_diff(paired_difference([91.0, 92.0], [90.0, 90.0]))
    assert two.strip().startswith('+1.50 [') and 'one seed' not in two
