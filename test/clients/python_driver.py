"""Drives clients/python/rollcall.py for test/clients/python.test.ts: one JSON command a line on stdin,
one JSON answer a line on stdout."""
import json
import os
import sys
import time

sys.dont_write_bytecode = True  # leaves no __pycache__ in clients/python
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "clients", "python"))
import rollcall  # noqa: E402

client = None


def handle(command):
    global client
    op = command["op"]
    if op == "murmur":
        return {"hashes": [rollcall.murmur3(rollcall.utf8(text), seed) for text, seed in command["vectors"]],
                "positions": [rollcall.position(salt, partner) for salt, partner in command["positions"]]}
    if op == "start":
        client = rollcall.Client(command["url"], command["key"], **command.get("options", {})).start()
        return {"version": client.version}
    if op == "paths":
        return {"paths": {key: "".join(client.path(key, p)[0] for p in command["partners"]) for key in command["rollouts"]}}
    if op == "traffic":
        # [partner, messageId, outcome]: processed, failed, lost (received and never settled),
        # or elsewhere (settled here, received by another process).
        for partner, message_id, outcome in command["messages"]:
            if outcome != "elsewhere":
                client.received(command["rollout"], partner, message_id)
            if outcome in ("processed", "elsewhere"):
                client.processed(command["rollout"], partner, message_id)
            elif outcome == "failed":
                client.failed(command["rollout"], partner, message_id, error="upstream said no")
        return {}
    if op == "flush":
        return {"acknowledged": client.flush(), "queued": len(client._queue)}
    if op == "wait_path":
        deadline = time.monotonic() + command["timeout"]
        while client.path(command["rollout"], command["partner"]) != command["path"] and time.monotonic() < deadline:
            time.sleep(0.01)
        return {"path": client.path(command["rollout"], command["partner"])}
    if op == "close":
        return {"acknowledged": client.close()}
    raise ValueError(f"unknown op {op}")


for line in sys.stdin:
    try:
        answer = handle(json.loads(line))
    except Exception as error:  # noqa: BLE001 - the test shows it
        answer = {"error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
