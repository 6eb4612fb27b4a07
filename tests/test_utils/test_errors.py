"""tool_main: a user error ends a tool with one line and status 2; a bug
keeps its traceback."""
import pytest

from hexa_mm.utils import ConfigError, tool_main


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
