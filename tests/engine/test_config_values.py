"""Free-form `Config` values reach an extension as YAML wrote them, in types msgpack carries."""

from __future__ import annotations

import msgpack

from burrow.engine.config.loader import parse_config


def test_an_unquoted_date_stays_a_string_so_get_task_config_can_send_it() -> None:
    raw = parse_config(
        "Config:\n  Since: 2020-01-01\n  At: 2001-12-14t21:59:43.10-05:00\n", "p.yaml", None
    )
    assert raw.problems == ()
    assert raw.data["Config"] == {"Since": "2020-01-01", "At": "2001-12-14t21:59:43.10-05:00"}
    msgpack.packb(raw.data["Config"])  # what GetTaskConfig sends; a date would not encode


def test_other_scalars_keep_their_yaml_types() -> None:
    raw = parse_config(
        "Config: {n: 3, f: 1.5, b: true, z: null, s: '2020-01-01'}\n", "p.yaml", None
    )
    assert raw.data["Config"] == {"n": 3, "f": 1.5, "b": True, "z": None, "s": "2020-01-01"}
