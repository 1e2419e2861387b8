"""The jq child process (run as a script by jq_runner.py; imports nothing of the project).

Says `{"ready": true}` once its imports are done, then reads one JSON request per line on stdin: {"q": query, "v": input as JSON text}; answers one
JSON line on stdout: {"ok": [results]} or {"err": message}. Its address space is capped
(argv[1] = bytes allowed above what the interpreter uses at start), so a runaway program dies
here (jq aborts when an allocation fails) instead of in the processor. The environment is
emptied by the parent, so `$ENV`/`env` reveal nothing, and `now` is redefined to fail: jq
has no clock here, as scripts have none (replays must be deterministic).
"""

import json
import resource
import sys

import jq

NO_CLOCK = (
    'def now: error("jq has no clock (now is disabled so that replays are deterministic); '
    'pass the time in the task input"); '
)


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _cap_memory(extra: int) -> None:
    if extra > 0:
        limit = _vm_size() + extra
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    _cap_memory(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    programs: dict[str, object] = {}
    read, write = sys.stdin.buffer.readline, sys.stdout.buffer
    write.write(b'{"ready": true}\n')  # imports done: the parent's query clock starts now
    write.flush()
    while line := read():
        try:
            request = json.loads(line)
            query = request["q"]
            program = programs.get(query)
            if program is None:
                if len(programs) > 512:
                    programs.clear()
                program = programs[query] = jq.compile(NO_CLOCK + query)
            answer = {"ok": program.input_text(request["v"]).all()}  # type: ignore[attr-defined]
        except MemoryError:
            answer = {"err": "memory"}
        except Exception as error:  # jq's errors are ValueErrors; anything else is reported
            answer = {"err": str(error).replace(NO_CLOCK, "")}
        write.write(json.dumps(answer).encode() + b"\n")
        write.flush()


if __name__ == "__main__":
    main()
