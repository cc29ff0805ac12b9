"""The brain through the Robot API: datums, short-term memory, Contexts and secrets, from real children."""

from __future__ import annotations

import asyncio
from pathlib import Path

from burrow.brain import SecretBox, generate_key
from support import burrow

COUNTER = """\
config: |
  Commands: [{Command: count, Regex: count}, {Command: show, Regex: show}, {Command: forget, Regex: forget}]
commands:
  count:
    - {call: [CheckoutDatum, counter, true], as: c}
    - {call: [UpdateDatum, counter, '{c[lock_token]}', "=(c['datum'] or 0) + 1"], as: u}
    - [Say, 'was {c[datum]} exists={c[exists]} update={u[ret_val]}']
  show:
    - {call: [CheckoutDatum, counter, false], as: c}
    - [Say, 'counter={c[datum]} token="{c[lock_token]}" ret={c[ret_val]}']
  forget:
    - {call: [DeleteDatum, counter], as: d}
    - {call: [DeleteDatum, counter], as: again}
    - [Say, 'deleted={d[ret_val]} again={again[ret_val]}']
"""


def test_datum_checkout_update_and_read_back(harness) -> None:
    harness.extension("plugin", "tally", COUNTER)

    async def script(h):
        return [
            *await h.texts("bob", ";count"),
            *await h.texts("bob", ";count"),
            *await h.texts("bob", ";show"),
            *await h.texts("bob", ";forget"),
            *await h.texts("bob", ";show"),
        ]

    assert harness.play(script) == [
        "was None exists=False update=0",
        "was 1 exists=True update=0",
        'counter=2 token="" ret=0',
        "deleted=0 again=0",
        'counter=None token="" ret=0',
    ]


def test_datums_are_namespaced_per_extension(harness) -> None:
    harness.extension("plugin", "tally", COUNTER)
    harness.extension(
        "plugin",
        "other",
        COUNTER.replace("count,", "bump,")
        .replace("count:", "bump:")
        .replace("Command: show, Regex: show", "Command: peek, Regex: peek")
        .replace("  show:", "  peek:")
        .replace("Command: forget, Regex: forget", "Command: drop, Regex: drop")
        .replace("  forget:", "  drop:")
        .replace("Regex: count", "Regex: bump"),
    )

    async def script(h):
        await h.texts("bob", ";count")
        await h.texts("bob", ";count")
        return await h.texts("bob", ";bump") + await h.texts("bob", ";show")

    assert harness.play(script) == ["was None exists=False update=0", 'counter=2 token="" ret=0']


def test_concurrent_pipelines_incrementing_one_datum_end_with_exactly_n(harness) -> None:
    harness.extension("plugin", "tally", COUNTER)
    n = 8

    async def script(h):
        for _ in range(n):
            await h.send("bob", ";count")
        await h.replies(n, timeout=60)
        return await h.texts("bob", ";show")

    assert harness.play(script) == [f'counter={n} token="" ret=0']


def test_an_expired_lock_passes_on_and_the_late_update_is_refused(harness) -> None:
    harness.extension(
        "plugin",
        "slowpoke",
        "config: |\n  Commands: [{Command: hold, Regex: hold}, {Command: grab, Regex: grab}]\n"
        "commands:\n  hold:\n    - {call: [CheckoutDatum, key, true], as: c}\n    - {sleep: 3}\n"
        "    - {call: [UpdateDatum, key, '{c[lock_token]}', late], as: u}\n    - [Say, 'late update={u[ret_val]}']\n"
        "  grab:\n    - {call: [CheckoutDatum, key, true], as: c}\n"
        "    - {call: [UpdateDatum, key, '{c[lock_token]}', grabbed], as: u}\n    - [Say, 'grab update={u[ret_val]}']\n",
    )

    async def script(h):
        await h.send("bob", ";hold")
        await asyncio.sleep(0.5)
        await h.send("alice", ";grab")
        return [m.text for m in await h.replies(2)]

    # grab waits for the lock, gets it when it expires (2 s) and updates, which releases it;
    # hold's late update then finds no lock at all: DatumNotFound (6), as upstream. (While
    # someone else still holds it, a stale token gets DatumLockExpired: tests/brain.)
    assert harness.play(script) == ["grab update=0", "late update=6"]


def test_invalid_datum_key_is_refused(harness) -> None:
    harness.extension(
        "plugin",
        "bad",
        "config: |\n  Commands: [{Command: go, Regex: go}]\ncommands:\n  go:\n"
        "    - {call: [CheckoutDatum, 'other:key', true], as: c}\n    - [Say, 'ret={c[ret_val]}']\n",
    )
    assert harness.play(lambda h: h.texts("bob", ";go")) == ["ret=10"]  # InvalidDatumKey


MEMORY = """\
config: |
  AllowedPrivateCommands: ['*']
  Commands:
    - {Command: set, Regex: 'set (\\w+) (\\w+)( shared)?'}
    - {Command: get, Regex: 'get (\\w+)( shared)?'}
    - {Command: tset, Regex: 'tset (\\w+) (\\w+)'}
    - {Command: drop, Regex: 'drop (\\w+)'}
commands:
  set:
    - [Remember, '{args[1]}', '{args[2]}', "=args[3] != ''"]
    - [Say, ok]
  tset:
    - [RememberThread, '{args[1]}', '{args[2]}']
    - [Say, ok]
  get:
    - {call: [Recall, '{args[1]}', "=args[2] != ''"], as: r}
    - [Say, 'got "{r[string]}"']
  drop:
    - [DeleteMemory, '{args[1]}']
    - [Say, ok]
"""


def test_short_term_memory_is_per_user_unless_shared(harness) -> None:
    harness.extension("plugin", "notes", MEMORY)

    async def script(h):
        out = []
        for user, text in [
            ("bob", ";set color red"),
            ("bob", ";get color"),
            ("alice", ";get color"),
            ("bob", ";set team blue shared"),
            ("alice", ";get team shared"),
            ("alice", ";get team"),
            ("bob", ";drop color"),
            ("bob", ";get color"),
        ]:
            out += await h.texts(user, text)
        return out

    assert harness.play(script) == [
        "ok",
        'got "red"',
        'got ""',
        "ok",
        'got "blue"',
        'got ""',
        "ok",
        'got ""',
    ]


def test_dm_memories_are_never_shared_and_channels_are_separate(harness) -> None:
    harness.extension("plugin", "notes", MEMORY)

    async def script(h):
        out = await h.texts("bob", "set pet cat shared", channel="")
        out += await h.texts("bob", "get pet shared", channel="")
        out += await h.texts("alice", "get pet shared", channel="")
        out += await h.texts("bob", ";get pet shared", channel="general")
        return out

    assert harness.play(script) == ["ok", 'got "cat"', 'got ""', 'got ""']


def test_thread_memories_are_invisible_outside_their_thread(harness) -> None:
    harness.extension("plugin", "notes", MEMORY)

    async def script(h):
        out = await h.texts("bob", ";tset topic deploys", threaded=True, thread_id="t1")
        out += await h.texts("bob", ";get topic", threaded=True, thread_id="t1")
        out += await h.texts("bob", ";get topic")
        out += await h.texts("bob", ";get topic", threaded=True, thread_id="t2")
        return out

    assert harness.play(script) == ["ok", 'got "deploys"', 'got ""', 'got ""']


def test_memories_survive_a_restart_of_the_robot(harness) -> None:
    harness.extension("plugin", "notes", MEMORY)
    harness.extension("plugin", "tally", COUNTER)

    async def first(h):
        await h.texts("bob", ";count")
        return await h.texts("bob", ";tset topic kept", threaded=True, thread_id="t7")

    async def second(h):
        return await h.texts("bob", ";show") + await h.texts(
            "bob", ";get topic", threaded=True, thread_id="t7"
        )

    harness.play(first)
    assert harness.play(second) == ['counter=1 token="" ret=0', 'got "kept"']


def test_matcher_contexts_fill_in_the_remembered_value(harness) -> None:
    harness.extension(
        "plugin",
        "servers",
        "config: |\n  Commands: [{Command: reboot, Regex: 'reboot ?(\\w*)', Contexts: ['server:it']}]\n"
        "commands:\n  reboot:\n    - [Say, 'rebooting {args[1]}']\n",
    )

    async def script(h):
        out = await h.texts("bob", ";reboot it")
        out += await h.texts("bob", ";reboot web1")
        out += await h.texts("bob", ";reboot it")
        out += await h.texts("bob", ";reboot")
        return out

    assert harness.play(script) == [
        "Sorry, I don't remember which server you mean",
        "rebooting web1",
        "rebooting web1",
        "rebooting web1",
    ]


SECRET = """\
config: |
  Commands: [{Command: seal, Regex: 'seal (\\w+)'}, {Command: reveal, Regex: reveal}]
commands:
  seal:
    - {call: [EncryptSecret, '{args[1]}'], as: s}
    - [Say, 'ret={s[ret_val]} {s[ciphertext]}']
  reveal:
    - {call: [GetParameter, TOKEN], as: t}
    - [Say, 'token={t[string]}']
"""


def test_encrypt_secret_needs_a_privileged_pipeline(harness) -> None:
    harness.extension("plugin", "vault", SECRET)
    assert harness.play(lambda h: h.texts("bob", ";seal hunter2")) == [
        "ret=29 "
    ]  # PrivilegeViolation


def test_encrypted_parameter_reaches_its_task_decrypted(harness, monkeypatch) -> None:
    key = generate_key()
    monkeypatch.setenv("BURROW_ENCRYPTION_KEY", key)
    ciphertext = SecretBox([key]).encrypt_secret("hunter2")
    harness.extension(
        "plugin",
        "vault",
        SECRET,
        settings=f"Privileged: true, Parameters: [{{Name: TOKEN, Value: 'encrypted:{ciphertext}'}}]",
    )

    async def script(h):
        sealed = await h.texts("bob", ";seal swordfish")
        return sealed + await h.texts("bob", ";reveal")

    sealed, revealed = harness.play(script)
    ret, cipher = sealed.split()
    assert ret == "ret=0" and SecretBox([key]).decrypt_secret(cipher) == "swordfish"
    assert revealed == "token=hunter2"
    # At rest the robot's own files hold only the ciphertext.
    assert "hunter2" not in (harness.root / "conf" / "robot.yaml").read_text()


def test_robot_refuses_to_start_on_a_brain_it_cannot_open(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "robot.yaml").write_text("Brain: sqlite\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "brain.sqlite3").write_bytes(b"this is not a database" * 100)
    result = burrow("run", str(tmp_path))
    assert result.returncode == 2
    assert "the robot cannot start" in result.stderr and "brain.sqlite3" in result.stderr
    assert (state / "brain.sqlite3").read_bytes() == b"this is not a database" * 100  # untouched
