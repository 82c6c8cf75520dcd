"""Writes the Event Hubs Capture fixtures of cli/tests/cli.rs with fastavro (an Avro
implementation independent of the CLI's): the Activity Log records of
events/formats/azure-storage-export-PT1H.json as the diagnostic setting sends them to an Event
Hub ({"records": [...]} bodies, two records an event), in Capture's schema, one event a block.

    python3 -m venv /tmp/avenv && /tmp/avenv/bin/pip install fastavro
    /tmp/avenv/bin/python cli/tests/data/capture/make.py
"""
import json
import os

import fastavro

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..", "..")

# Capture's schema (Event Hubs documentation, "Exploring captured Avro files").
SCHEMA = fastavro.parse_schema({
    "type": "record", "name": "EventData", "namespace": "Microsoft.ServiceBus.Messaging",
    "fields": [
        {"name": "SequenceNumber", "type": "long"},
        {"name": "Offset", "type": "string"},
        {"name": "EnqueuedTimeUtc", "type": "string"},
        {"name": "SystemProperties", "type": {"type": "map", "values": ["long", "double", "string", "bytes"]}},
        {"name": "Properties", "type": {"type": "map", "values": ["long", "double", "string", "bytes", "null"]}},
        {"name": "Body", "type": ["null", "bytes"]},
    ],
})


def event(n, body):
    return {"SequenceNumber": n, "Offset": str(4096 * n), "EnqueuedTimeUtc": "11/6/2026 10:08:%02d AM" % n,
            "SystemProperties": {"x-opt-enqueued-time": 1793959680000 + n}, "Properties": {}, "Body": body}


def main():
    with open(os.path.join(ROOT, "events/formats/azure-storage-export-PT1H.json")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    bodies = [json.dumps({"records": records[i:i + 2]}).encode() for i in range(0, len(records), 2)]
    events = [event(n, b) for n, b in enumerate(bodies)]
    # An event with no body: nothing to read in it.
    events.insert(1, event(len(events), None))
    for codec, extra in [("deflate", []), ("null", [event(9, b"not an activity log message")])]:
        path = os.path.join(HERE, f"capture-{codec}.avro")
        with open(path, "wb") as out:
            # sync_interval 1: every event is a block of its own, so a cut file keeps the
            # events of the blocks before the cut.
            fastavro.writer(out, SCHEMA, events + extra, codec=codec, sync_interval=1)


if __name__ == "__main__":
    main()
