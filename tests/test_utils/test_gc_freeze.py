"""freeze_imported_objects: a tool's imports out of later collections, once
a process."""
import gc
import subprocess
import sys
import textwrap
from pathlib import Path

UTILS = Path(__file__).resolve().parents[2] / 'hexa_mm' / 'utils'


def test_freezes_once_a_process_after_a_collection() -> None:
    # in a fresh interpreter (the test process has frozen objects of its
    # own), the module alone (standard library only)
    script = textwrap.dedent('''
        import gc
        from gc_freeze import freeze_imported_objects

        class Cycle:
            pass

        garbage = Cycle()
        garbage.self = garbage
        del garbage
        assert gc.get_freeze_count() == 0
        freeze_imported_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 0
        # the garbage was collected, not frozen (unfrozen, it would show)
        gc.unfreeze()
        assert not any(type(o).__name__ == 'Cycle' for o in gc.get_objects())
        gc.freeze()
        kept = [Cycle() for _ in range(10)]
        freeze_imported_objects()
        assert gc.get_freeze_count() == frozen  # the second call: nothing
        print('ok')
        ''')
    proc = subprocess.run([sys.executable, '-c', script],
                          cwd=UTILS,
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.stdout.strip() == 'ok', proc.stderr[-2000:]


def test_the_tools_wrapper_freezes(monkeypatch) -> None:
    from hexa_mm.utils import tool_main
    calls = []
    monkeypatch.setattr('hexa_mm.utils.errors.freeze_imported_objects',
                        lambda: calls.append('freeze'))
    assert tool_main(lambda: calls.append('main'))() == 0
    assert calls == ['freeze', 'main']
    assert gc.isenabled()
