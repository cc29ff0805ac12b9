"""The `builtin-totp` elevator, through a real robot: prompts, codes, timeouts, secrets.

The texts are upstream's (bot/builtin_totp.go, bot/elevate.go and its Security suites in
https://github.com/lnxjedi/gopherbot/tree/main/integration/suites/data). Codes come from a
real TOTP secret (pyotp), so a code is valid exactly when an authenticator app's would be.
"""

from __future__ import annotations

import asyncio
import time

import pyotp
import pytest

from burrow.brain import SecretBox, generate_key
from support import run

SECRET = pyotp.random_base32()
PROMPT = "This command requires elevation, please provide a TOTP code for 'Burrow Robot':"
IMMEDIATE = (
    "This command requires immediate elevation, please provide a TOTP code for 'Burrow Robot':"
)
TECHNICAL = (
    "There were technical issues validating your code, ask an administrator to check the log"
)
SERVICE = "Sorry, elevation failed due to a problem with the elevation service"


def _code(steps: int = 0) -> str:
    """alice's code `steps` 30-second steps from now (the elevator accepts one step either way)."""
    return pyotp.TOTP(SECRET).at(time.time() + 30 * steps)


def _wrong() -> str:
    return next(
        c
        for c in ("000000", "111111", "222222")
        if not pyotp.TOTP(SECRET).verify(c, valid_window=1)
    )


def _robot(harness, secret: str = SECRET, config: str = "") -> None:
    harness.robot_yaml += "DefaultElevator: builtin-totp\n"
    (harness.root / "conf" / "plugins" / "builtin-totp.yaml").write_text(
        f"Config:\n{config}  Users:\n  - {{User: alice, Secret: '{secret}'}}\n"
    )
    harness.extension(
        "plugin",
        "vault",
        "config: |\n  Commands: [{Command: open, Regex: 'open'}, {Command: now, Regex: 'now'},"
        " {Command: check, Regex: 'check'}]\n"
        "commands:\n  open:\n    - [Say, opened]\n  now:\n    - [Say, 'opened now']\n"
        "  check:\n    - {call: [Elevate, true], as: e}\n    - [Say, 'ELEVATE CHECK: {e[bool]}']\n",
        conf="ElevatedCommands: [open]\nElevateImmediateCommands: [now]\n",
    )


async def _ask(harness, user: str, text: str, channel: str = "general"):
    """Send `text` and return the prompt the robot answers with."""
    [prompt] = await harness.exchange(user, text, channel)
    return prompt


def test_an_elevated_command_asks_for_a_code_once_per_timeout(harness) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            prompt = await _ask(harness, "alice", ";open")
            first = await harness.texts("alice", _code())
            again = await harness.texts("alice", ";open")  # still elevated: no prompt
            return prompt, first, again
        finally:
            await harness.stop()

    prompt, first, again = run(main())
    assert (prompt.user, prompt.channel, prompt.text) == ("alice", "general", PROMPT)
    assert first == ["opened"] and again == ["opened"]


def test_immediate_elevation_always_asks_and_refuses_a_reused_code(harness) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            code = _code()
            heard = [(await _ask(harness, "alice", ";now")).text]
            heard += await harness.texts("alice", code)
            heard += [(await _ask(harness, "alice", ";now")).text]
            heard += await harness.texts("alice", code, n=2)  # the same code again
            heard += [(await _ask(harness, "alice", ";now")).text]
            heard += await harness.texts("alice", _code(1))  # the next step's code
            heard += [(await _ask(harness, "alice", ";now")).text]
            heard += await harness.texts("alice", _wrong(), n=2)
            return heard
        finally:
            await harness.stop()

    assert run(main()) == [
        IMMEDIATE,
        "opened now",
        IMMEDIATE,
        TECHNICAL,  # upstream treats a replayed code as a failure to validate
        SERVICE,
        IMMEDIATE,
        "opened now",
        IMMEDIATE,
        "Invalid code",
        "Sorry, this command requires elevation",
    ]


def test_a_user_without_a_secret_is_told_of_a_technical_problem(harness) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            prompt = await _ask(harness, "bob", ";open")
            return prompt.text, [m.text for m in await harness.exchange("bob", "123456", n=2)]
        finally:
            await harness.stop()

    prompt, heard = run(main())
    assert prompt == PROMPT and heard == [TECHNICAL, SERVICE]


def test_elevate_true_from_an_extension_prompts_and_answers_with_the_verdict(harness) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            heard = [(await _ask(harness, "alice", ";check")).text]
            heard += await harness.texts("alice", _code())
            heard += [(await _ask(harness, "bob", ";check")).text]
            heard += await harness.texts("bob", "123456", n=3)
            return heard
        finally:
            await harness.stop()

    assert run(main()) == [
        IMMEDIATE,
        "ELEVATE CHECK: True",
        IMMEDIATE,
        TECHNICAL,
        SERVICE,
        "ELEVATE CHECK: False",
    ]


def test_an_answer_that_is_not_a_code_is_asked_again_by_direct_message(harness) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            await _ask(harness, "alice", ";open")
            [retry] = await harness.exchange("alice", "my code is coming")
            done = await harness.texts("alice", _code(), channel="")
            return retry, done
        finally:
            await harness.stop()

    retry, done = run(main())
    assert (retry.user, retry.channel, retry.text) == (
        "alice",
        "",
        "Try again? I need a 6-digit launch code",
    )
    assert done == ["opened"]


@pytest.mark.parametrize(
    ("kind", "third_asks"), [("idle", False), ("absolute", True)], ids=["idle", "absolute"]
)
def test_timeout_type_idle_restarts_the_clock_and_absolute_does_not(
    harness, kind: str, third_asks: bool
) -> None:
    _robot(harness, config=f"  TimeoutSeconds: 1\n  TimeoutType: {kind}\n")

    async def main():
        await harness.start()
        try:
            await _ask(harness, "alice", ";open")
            heard = await harness.texts("alice", _code())
            await asyncio.sleep(0.6)
            heard += await harness.texts("alice", ";open")  # within the second: no prompt
            await asyncio.sleep(0.6)
            heard += await harness.texts("alice", ";open")  # 1.2 s after the code
            return heard
        finally:
            await harness.stop()

    assert run(main()) == ["opened", "opened", PROMPT if third_asks else "opened"]


def test_the_check_command_validates_a_code(harness) -> None:
    _robot(harness)

    async def main():
        await harness.start()
        try:
            return (
                await harness.texts("alice", f";validate {_wrong()}")
                + await harness.texts("alice", f";validate {_code()}")
                + await harness.texts("bob", ";launch missiles: 123456")
            )
        finally:
            await harness.stop()

    assert run(main()) == [
        "Sorry, that's not a valid code",
        "Looks good - you're ready to wreak havoc!",
        "Dang! I had a system problem verifying your code",
    ]


def test_an_encrypted_secret_is_decrypted_by_the_robot(harness, monkeypatch) -> None:
    key = generate_key()
    monkeypatch.setenv("BURROW_ENCRYPTION_KEY", key)
    _robot(harness, secret="encrypted:" + SecretBox([key]).encrypt_secret(SECRET))

    async def main():
        await harness.start()
        try:
            await _ask(harness, "alice", ";open")
            return await harness.texts("alice", _code())
        finally:
            await harness.stop()

    assert run(main()) == ["opened"]


def test_an_encrypted_secret_without_the_key_cannot_elevate(harness, monkeypatch) -> None:
    monkeypatch.delenv("BURROW_ENCRYPTION_KEY", raising=False)
    _robot(harness, secret="encrypted:" + SecretBox([generate_key()]).encrypt_secret(SECRET))

    async def main():
        await harness.start()
        try:
            await _ask(harness, "alice", ";open")
            return await harness.texts("alice", _code(), n=2)
        finally:
            await harness.stop()

    assert run(main()) == [TECHNICAL, SERVICE]


def test_a_secret_that_is_not_base32_disables_the_elevator_with_its_place(harness) -> None:
    _robot(harness, secret="not a secret!")

    async def main():
        robot = await harness.start()
        try:
            return robot.catalog.problems(), await harness.texts("alice", ";open")
        finally:
            await harness.stop()

    problems, heard = run(main())
    assert problems["builtin-totp"].startswith(
        "conf/plugins/builtin-totp.yaml:3: Config.Users[0].Secret: the secret is not a base32"
    )
    assert "not a secret" not in problems["builtin-totp"]  # a secret is never repeated
    assert heard[0].startswith("Sorry, 'vault/open' requires elevation, but its elevator")


def test_elevate_in_a_pipeline_that_acts_for_nobody_is_refused_at_once(harness) -> None:
    _robot(harness)
    harness.extension(
        "job",
        "boot",
        "commands:\n  '*':\n    - {call: [Elevate, true], as: e}\n    - [Say, 'boot elevated={e[bool]}']\n",
        conf="Quiet: true\nChannel: ops\n",
    )
    harness.robot_yaml += "ScheduledJobs: [{Name: boot, Schedule: '@init'}]\n"

    started = time.monotonic()
    heard = harness.play(lambda h: h.replies(2))
    assert [(m.channel, m.text) for m in heard] == [
        ("ops", "Sorry, this command requires elevation"),
        ("ops", "boot elevated=False"),
    ]
    assert time.monotonic() - started < 10  # no prompt waited for
