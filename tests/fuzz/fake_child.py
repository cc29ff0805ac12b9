"""A fake extension child for fuzzing the parent: it plays a script of raw writes.

Run as `python -I fake_child.py SCRIPT`, where SCRIPT is a msgpack file holding a list of steps:

    ["write", bytes]     write these bytes to stdout as they are (any frame, any garbage)
    ["await", n]         wait until n more whole frames came from the parent (EOF: exit 0)
    ["sleep", seconds]
    ["close_stdout"]     close the stream to the parent and carry on
    ["exit", status]     exit with this status at once
    ["serve"]            answer $/shutdown with {"ok": true} and exit 0; exit 0 on EOF
    ["hang"]             sleep until killed

The steps are all there is: the script decides whether the child ever says a valid word.
"""

from __future__ import annotations

import os
import sys
import time

import msgpack


def main() -> int:
    with open(sys.argv[1], "rb") as handle:
        steps = msgpack.unpackb(handle.read(), raw=False)
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=64 << 20)

    def next_frame() -> object:
        while True:
            try:
                return unpacker.unpack()
            except msgpack.OutOfData:
                pass
            except Exception:  # noqa: BLE001 - the parent wrote garbage: this fake is done
                os._exit(3)
            data = os.read(0, 65536)
            if not data:
                os._exit(0)
            unpacker.feed(data)

    for step in steps:
        kind = step[0]
        if kind == "write":
            try:
                view = memoryview(step[1])
                while view:
                    view = view[os.write(1, view) :]
            except OSError:
                os._exit(4)  # the parent closed our stdout: it gave up on us
        elif kind == "await":
            for _ in range(step[1]):
                next_frame()
        elif kind == "sleep":
            time.sleep(step[1])
        elif kind == "close_stdout":
            os.close(1)
        elif kind == "exit":
            os._exit(step[1])
        elif kind == "serve":
            while True:
                frame = next_frame()
                if isinstance(frame, list) and frame[:1] == [0] and frame[2:3] == ["$/shutdown"]:
                    try:
                        os.write(1, msgpack.packb([1, frame[1], None, {"ok": True}]))
                    except OSError:
                        pass  # stdout was closed by an earlier step
                    os._exit(0)
        elif kind == "hang":
            while True:
                time.sleep(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
