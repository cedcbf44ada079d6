"""What goes out on IRC: replies split into lines that fit (at spaces, never inside a character,
never with a raw line break), the throttle, and reading ``irc://`` URLs."""

from __future__ import annotations

import asyncio
import re

import pytest
from hotbus.runtime._chat.irc import IrcAddress, IrcSecrets
from hotbus.runtime._chat.lines import Throttle, split_text

# -- splitting ---------------------------------------------------------------------------------


def test_a_short_reply_is_one_line() -> None:
    assert split_text("🎲 2d6: 3 + 4 = 7", 400) == ["🎲 2d6: 3 + 4 = 7"]


def test_a_long_reply_is_split_at_spaces_within_the_limit() -> None:
    text = " ".join(f"w{n:02d}" for n in range(40))  # 40 words of 3 characters
    lines = split_text(text, 30)
    assert all(len(line.encode()) <= 30 for line in lines)
    assert " ".join(lines) == text


def test_a_word_longer_than_a_line_is_cut() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_a_split_never_cuts_a_character_in_two() -> None:
    lines = split_text("é" * 11, 9)  # 2 bytes each: 4 fit in 9 bytes
    assert lines == ["éééé", "éééé", "ééé"]


def test_line_breaks_become_separate_lines_and_never_raw() -> None:
    lines = split_text("one\r\ntwo\n\nQUIT :injected", 100)
    assert lines == ["one", "two", "QUIT :injected"]


def test_a_reply_of_too_many_lines_is_cut_saying_how_many_were_left_out() -> None:
    lines = split_text("\n".join(str(n) for n in range(20)), 100, max_lines=5)
    assert lines == ["0", "1", "2", "3", "... (16 more lines)"]


def test_a_huge_reply_is_cut_without_splitting_all_of_it() -> None:
    lines = split_text("word " * 200_000, 400, max_lines=8)  # a megabyte, one paragraph
    assert len(lines) == 8
    assert re.fullmatch(r"\.\.\. \(\d{4} more lines\)", lines[-1])


def test_a_limit_too_small_to_hold_anything_is_refused() -> None:
    with pytest.raises(ValueError, match="a line of 4 bytes holds nothing"):
        split_text("hi", 4)


# -- throttle ----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_lets_a_burst_through_then_makes_lines_wait() -> None:
    clock = Clock()
    throttle = Throttle(burst=3, interval_s=1.0, clock=clock)
    assert [throttle.delay() for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_the_throttle_refills_one_line_per_interval() -> None:
    clock = Clock()
    throttle = Throttle(burst=2, interval_s=0.5, clock=clock)
    throttle.delay()
    throttle.delay()
    clock.now = 0.5
    assert (throttle.delay(), throttle.delay()) == (0.0, 0.5)


async def test_waiting_on_the_throttle_takes_the_interval() -> None:
    throttle = Throttle(burst=1, interval_s=0.05)
    await throttle.wait()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await throttle.wait()
    assert loop.time() - start >= 0.04


# -- URLs and secrets --------------------------------------------------------------------------


def test_an_irc_url_gives_host_port_and_channels() -> None:
    assert IrcAddress.parse("irc://irc.example:6668/#dev,#ops") == IrcAddress(
        "irc.example", 6668, False, ("#dev", "#ops")
    )


def test_ircs_is_tls_on_port_6697_by_default() -> None:
    address = IrcAddress.parse("ircs://irc.example/#dev")
    assert (address.tls, address.port) == (True, 6697)


def test_a_channel_without_its_hash_gets_one() -> None:
    assert IrcAddress.parse("irc://irc.example/dev").channels == ("#dev",)


def test_an_ipv6_host_is_written_in_brackets() -> None:
    address = IrcAddress.parse("irc://[::1]:6667/#dev")
    assert (address.host, str(address)) == ("::1", "[::1]:6667")


def test_a_url_with_a_password_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="HOTBUS_IRC_PASSWORD") as caught:
        IrcAddress.parse("irc://bot:hunter2@irc.example/#dev")
    assert "hunter2" not in str(caught.value)


def test_a_port_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match="is not a number"):
        IrcAddress.parse("irc://irc.example:sixty/#dev")


def test_secrets_come_from_the_environment_and_never_show_in_a_repr() -> None:
    secrets = IrcSecrets.from_env(
        {"HOTBUS_IRC_PASSWORD": "hunter2", "HOTBUS_IRC_SASL_PASSWORD": "swordfish"}
    )
    assert secrets.values() == ["hunter2", "swordfish"]
    assert "hunter2" not in repr(secrets)
    assert "swordfish" not in repr(secrets)
