#!/usr/bin/env python3
"""Acceptance: Gopherbot's Lua and JavaScript sample plugins, loaded unchanged by a Burrow robot.

Reads each sample from a mirror of Gopherbot's repository at run time (nothing of it is kept
in this project), copies it byte for byte into a scratch robot (one per language, as
upstream's samples share command names across languages), talks to it through the test
connector and prints, per sample, which conversations passed. Web requests (`chuck`) go
through a forward proxy on loopback to a local HTTPS server whose certificate the robot's
`HTTPClient.CAFile` trusts, so the sample's `https://api.chucknorris.io` URL is used as
written, with TLS verified. See tests/upstream/README.md.

    .venv/bin/python tests/upstream/run_samples.py [--mirror PATH] [--work DIR] [--json FILE]

A conversation that Burrow answers differently on purpose (documented in docs/lua.md or
docs/javascript.md, "Differences") is reported as `differs` with the reason, not as passed.
Exits 0 when every conversation passed or differs as documented, 1 otherwise; without a
mirror it says SKIPPED and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # run_upstream's Mirror; tests/http_support.py

from run_upstream import DEFAULT_MIRROR, Mirror  # noqa: E402

from burrow.brain import generate_key  # noqa: E402
from burrow.connectors.testing import SentMessage, TestConnector  # noqa: E402
from burrow.engine.robot import Robot  # noqa: E402
from http_support import JOKE, certificates, connect_proxy, web_server  # noqa: E402

REPLY_TIMEOUT = 20.0  # seconds for each expected message (chuck pauses 2 s)
QUIET = 0.5  # seconds without a message after the expected ones: anything later is extra


@dataclass
class Step:
    """One message to the robot and the messages expected back, in order (regexes)."""

    text: str
    expect: list[str]
    user: str = "alice"
    channel: str = "general"  # "" = a direct message
    in_thread: bool = False  # sent in the thread of the last message the robot sent


@dataclass
class Conversation:
    name: str
    steps: list[Step]
    # Set when Burrow answers differently on purpose: why, and where it is documented.
    differs: str = ""


@dataclass
class Sample:
    """One upstream file, declared as a plugin named `plugin`."""

    path: str
    plugin: str
    conversations: list[Conversation]
    config: str = ""  # conf/plugins/<plugin>.yaml, as upstream's sample overlay says


def _memory() -> list[Conversation]:
    """demo's long-term memory commands, the same in both languages."""
    return [
        Conversation(
            "remember, recall, forget",
            [
                Step(
                    ";remember the cat",
                    [r'^Ok, I\'ll remember "the cat"$', "^committed to memory$"],
                ),
                Step(";remember the cat", ["^That's already one of my fondest memories.$"]),
                Step(";recall", [r"^Here's what I remember:\n1: the cat"]),
                Step(";recall 1", ["^the cat$"]),
                Step(";recall 5", ["^I don't remember that many things!$"]),
                Step(";forget 1", [r'^Ok, I\'ll forget "the cat"$']),
                Step(";recall", ["^Sorry - I don't remember anything!$"]),
            ],
        ),
        Conversation(
            "listen: a prompt in a direct message",
            [
                Step(";listen", ["^Ok, what do you want to tell me\\?$"]),
                Step("hi there", ["^I hear what you're saying: 'hi there'$"], channel=""),
            ],
        ),
        Conversation(
            "check me: CheckAdmin, then Elevate(true) with no elevator configured",
            [
                Step(
                    ";check me",
                    [
                        "^It looks like you're an administrator.$",
                        "^Now I'll request elevation...$",
                        "^Sorry, elevation failed due to a configuration error$",
                        "^You failed to elevate, I'm calling the cops!$",
                    ],
                ),
                Step(
                    ";check me",
                    [
                        "^Well, you're not an administrator.$",
                        "^Now I'll request elevation...$",
                        "^Sorry, elevation failed due to a configuration error$",
                        "^You failed to elevate, I'm calling the cops!$",
                    ],
                    user="bob",
                ),
            ],
        ),
    ]


def _chuck() -> Conversation:
    return Conversation(
        "an ambient match, http.get over TLS through the proxy, Pause",
        [Step("I hear Chuck Norris is here", [r" Did you know \.\.\.\?$", f"^{re.escape(JOKE)}$"])],
    )


LUA = [
    Sample(
        "plugins/samples/hello.lua",
        "hello",
        [Conversation("hello lua", [Step(";hello lua", ["^Hello, Lua World!$"])])],
    ),
    Sample(
        "plugins/samples/demo.lua",
        "demo",
        [
            Conversation(
                "lua: thread reply, fields, DM, attributes, config",
                [
                    Step(
                        ";lua",
                        [
                            "^Hello from Lua in a thread!$",
                            r"^Home: .* \| User: alice \(.*\) \| Channel: general .*System User: ",
                            "^Hi from a DM; your name is alice$",
                            "^I have your email attribute as: alice@example.com$",
                            "^My bot name is: burrow$",
                            "^Random reply: ",
                        ],
                    )
                ],
                differs='it runs `io.popen("whoami")`; Burrow\'s Lua sandbox has no `io` '
                "(docs/lua.md, Differences), so the command stops after its thread reply",
            ),
            Conversation(
                "lua-thread",
                [
                    Step(
                        ";lua-thread",
                        [
                            "^Ok, let's chat here in a new thread$",
                            "^\\.\\.\\. note that you still have to mention me by name for now.$",
                        ],
                    )
                ],
            ),
            Conversation(
                "lua-ask-thread: a prompt in a thread",
                [
                    Step(
                        ";lua-ask-thread",
                        ["^I'm going to ask you a question...$", "^Tell me something - anything!$"],
                    ),
                    Step("bananas", ["^I hear what you're saying: 'bananas'$"], in_thread=True),
                ],
            ),
            *_memory(),
        ],
    ),
    Sample("plugins/chuck.lua", "chuck", [_chuck()]),
    Sample(
        "plugins/welcome.lua",
        "welcome",
        [Conversation("loads (empty configuration) and says nothing at start", [])],
    ),
    Sample(
        "plugins/samples/privsep_probe.lua",
        "privsep-lua-priv",
        [
            Conversation(
                "privsep lua priv",
                [Step(";privsep lua priv", ["^PRIVSEP_PROBE_RESULT probe=builtin-lua"])],
                differs="it reads `$GOPHER_HOME/.env` with `io.open`; Burrow's Lua sandbox has "
                "no `io` (docs/lua.md, Differences): no Lua extension can read a file",
            )
        ],
        config="Channels: [general]\nCommands:\n- Regex: (?i:privsep lua priv)\n  Command: probe\n",
    ),
]

JS = [
    Sample(
        "plugins/samples/hello.js",
        "hello",
        [Conversation("hello js", [Step(";hello js", ["^Hello, JavaScript World!$"])])],
    ),
    Sample(
        "plugins/samples/demo.js",
        "demo",
        [
            Conversation(
                "js: configuration and RandomString",
                [
                    Step(
                        ";js", ["^(Consider yourself|Waaaaaait|I'll javascript you|Crap|Oh really)"]
                    )
                ],
            ),
            Conversation(
                "js-thread",
                [
                    Step(
                        ";js-thread",
                        [
                            "^Sure, let's start a new thread$",
                            "^We can talk about ANYTHING here - my name is burrow$",
                        ],
                    )
                ],
            ),
            Conversation(
                "js-ask-thread: a prompt in a thread",
                [
                    Step(
                        ";js-ask-thread",
                        ["^Lemme ask you a question ...$", "^Whadaya know, Jack\\?$"],
                    ),
                    Step("bananas", ["^I hear what you're saying - bananas$"], in_thread=True),
                ],
            ),
            *_memory(),
        ],
    ),
    Sample("plugins/chuck.js", "chuck", [_chuck()]),
    Sample(
        "plugins/samples/github-tools.js",
        "github-tools",
        [
            Conversation(
                "an identity credential asked for, none linked",
                [
                    Step(
                        ";github-my-review-requests",
                        ["^You don't have a linked GitHub account yet. Try `link-github` first.$"],
                    )
                ],
            )
        ],
    ),
]

ROBOT_YAML = """\
BotInfo: {{UserName: burrow, FullName: Burrow Robot, Email: burrow@example.com}}
Alias: ";"
AdminUsers: [alice]
UserRoster:
  - {{UserName: alice, Email: alice@example.com}}
  - {{UserName: bob}}
DefaultChannels: [general]
HTTPClient: {{Proxy: '{proxy}', CAFile: '{ca_file}', Timeout: 10s}}
ParameterSets:
  github-app: {{Parameters: [{{Name: CLIENT_ID, Value: sample-client}}]}}
IdentityProviders:
  github: {{Type: oauth2, CredentialParameterSet: github-app, OAuth2: {{}}}}
ExternalPlugins:
{plugins}"""


@dataclass
class Outcome:
    sample: str
    conversation: str
    status: str  # passed, failed, differs
    detail: str = ""


def _check(step: Step, got: list[SentMessage]) -> str:
    """ "" when `got` is what `step` expects, else what differs."""
    texts = [m.text for m in got]
    for i, pattern in enumerate(step.expect):
        if i >= len(texts):
            return f"{step.text!r}: expected {pattern!r}, got nothing more (heard {texts})"
        if not re.search(pattern, texts[i], re.DOTALL):
            return f"{step.text!r}: expected {pattern!r}, got {texts[i]!r}"
    if len(texts) > len(step.expect):
        return f"{step.text!r}: unexpected {texts[len(step.expect) :]}"
    return ""


async def _hear(connector: TestConnector, count: int) -> list[SentMessage]:
    got: list[SentMessage] = []
    while len(got) < count:
        sent = await connector.next_sent(REPLY_TIMEOUT)
        if sent is None:
            return got
        got.append(sent)
    while (sent := await connector.next_sent(QUIET)) is not None:
        got.append(sent)
    return got


async def _talk(root: Path, samples: list[Sample], environ: dict[str, str]) -> list[Outcome]:
    robot = Robot(root, state_dir=root / "state", environ=environ)
    await robot.load()
    connector = TestConnector({})
    await robot.start({"test": connector}, primary="test")
    outcomes: list[Outcome] = []
    try:
        startup = await _hear(connector, 0)
        for sample in samples:
            task = robot.catalog.get(sample.plugin)
            if task is None or task.disabled:
                outcomes.append(Outcome(sample.path, "loads", "failed", "the plugin is disabled"))
                continue
            for conversation in sample.conversations:
                problem = ""
                if not conversation.steps and startup:
                    problem = f"said at start: {[m.text for m in startup]}"
                last: SentMessage | None = None
                for step in conversation.steps:
                    thread = last.thread_id if step.in_thread and last is not None else ""
                    await connector.inject(step.user, step.text, step.channel, thread_id=thread)
                    got = await _hear(connector, len(step.expect))
                    last = got[-1] if got else last
                    problem = _check(step, got)
                    if problem:
                        break
                if not problem:
                    status = "passed"
                elif conversation.differs:
                    status, problem = "differs", f"{conversation.differs} ({problem})"
                else:
                    status = "failed"
                outcomes.append(Outcome(sample.path, conversation.name, status, problem))
    finally:
        await robot.stop(grace=2.0)
    return outcomes


def _robot(mirror: Mirror, root: Path, samples: list[Sample], proxy: str, ca: Path) -> None:
    (root / "conf" / "plugins").mkdir(parents=True, exist_ok=True)
    lines = []
    for sample in samples:
        target = root / sample.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(mirror.read(sample.path))  # unmodified
        sets = ", ParameterSets: [github-app]" if sample.plugin == "github-tools" else ""
        lines.append(f"  {sample.plugin}: {{Path: {sample.path}{sets}}}\n")
        if sample.config:
            (root / "conf" / "plugins" / f"{sample.plugin}.yaml").write_text(sample.config)
    (root / "conf" / "robot.yaml").write_text(
        ROBOT_YAML.format(proxy=proxy, ca_file=ca, plugins="".join(lines))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new one in /tmp)")
    parser.add_argument("--json", type=Path, help="write the outcomes here as JSON")
    options = parser.parse_args()
    mirror = Mirror(options.mirror)
    if not mirror.exists():
        print(f"SKIPPED: no Gopherbot mirror at {options.mirror} (--mirror PATH)")
        return 0
    work = options.work or Path(tempfile.mkdtemp(prefix="burrow-samples-"))
    print(f"Gopherbot {mirror.commit()} samples; robots in {work}")
    environ = {**os.environ, "BURROW_ENCRYPTION_KEY": generate_key()}
    certs = certificates(work / "pki")
    outcomes: list[Outcome] = []
    with (
        web_server(tls=certs.server_context("api.chucknorris.io")) as api,
        connect_proxy(("127.0.0.1", api.port)) as proxy,
    ):
        for language, samples in (("lua", LUA), ("js", JS)):
            root = work / language
            _robot(mirror, root, samples, proxy.url, certs.ca_file)
            outcomes += asyncio.run(_talk(root, samples, environ))

    by_sample: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_sample.setdefault(outcome.sample, []).append(outcome)
    for sample, found in by_sample.items():
        print(f"\n== {sample}")
        for outcome in found:
            print(f"   {outcome.status.upper():8} {outcome.conversation}")
            if outcome.detail:
                print(f"            {outcome.detail}")
    print("\n| sample | passed | differs (documented) | failed |\n|---|---|---|---|")
    for sample, found in by_sample.items():
        counts = [sum(o.status == s for o in found) for s in ("passed", "differs", "failed")]
        print(f"| {sample} | " + " | ".join(map(str, counts)) + " |")
    if options.json:
        options.json.write_text(json.dumps([o.__dict__ for o in outcomes], indent=2))
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
