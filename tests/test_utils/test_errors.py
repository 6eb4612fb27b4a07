"""tool_main: a user error ends a tool with one line and status 2; a bug
keeps its traceback. The checks of configured values and the short lists of
names in messages."""
import pytest

from hexa_mm.utils import (ConfigError, check_positive, distinct_indices,
                           tool_main)
from hexa_mm.utils.errors import first_few


def test_a_user_error_is_one_line_and_status_2(capsys) -> None:

    @tool_main
    def main(path: str) -> int:
        raise FileNotFoundError(f'{path} not found:\n  give another')

    assert main('data/x') == 2
    out, err = capsys.readouterr()
    assert (out, err) == ('', 'error: data/x not found: give another\n')


def test_statuses_pass_through_and_none_is_0(capsys) -> None:
    assert tool_main(lambda: 3)() == 3
    assert tool_main(lambda: None)() == 0
    assert tool_main(lambda: None).__name__ == '<lambda>'

    @tool_main
    def refuses() -> int:
        raise ConfigError('--num 0 must be >= 1.')

    assert refuses() == 2
    assert capsys.readouterr().err == 'error: --num 0 must be >= 1.\n'


def test_a_bug_keeps_its_traceback() -> None:

    @tool_main
    def main() -> int:
        return [][1]

    with pytest.raises(IndexError):
        main()


def test_check_positive_names_the_first_value_not_above_0() -> None:
    check_positive('Algo', temperature=0.1, alpha=2)
    with pytest.raises(ConfigError) as err:
        check_positive('Algo', temperature=0.1, alpha=0, beta=-1)
    message = str(err.value)
    assert message.startswith('Algo: alpha=0 ') and 'beta' not in message
    with pytest.raises(ConfigError, match='nan'):
        check_positive('Algo', temperature=float('nan'))


@pytest.mark.parametrize('indices', [(), (0, 0), (1, -1)])
def test_distinct_indices_refuses_empty_repeated_and_negative(indices) -> None:
    with pytest.raises(ConfigError) as err:
        distinct_indices('Algo', 'crops', indices, 'view indices')
    assert str(err.value).startswith(f'Algo: crops={indices} ')
    assert 'view indices' in str(err.value)


def test_distinct_indices_are_ints_in_their_order() -> None:
    got = distinct_indices('Algo', 'crops', [2.0, 0, 1], 'view indices')
    assert got == (2, 0, 1)
    assert all(type(i) is int for i in got)


def test_first_few_says_when_names_are_left_out() -> None:
    assert first_few(['a', 'b', 'c'], 3) == 'a, b, c'
    assert first_few(iter(['a', 'b', 'c', 'd']), 3) == 'a, b, c, ...'
    assert first_few([1, 2], 1) == '1, ...'
    assert first_few([], 3) == ''
