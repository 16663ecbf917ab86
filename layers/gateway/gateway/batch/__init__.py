"""OpenAI Batch API on S3, SQS and DynamoDB, through the same completion pipeline as the HTTP API.

One module per job:
- ``settings.py``  environment knobs;  ``ids.py`` OpenAI-style ids (deterministic where replays must
  land on the same id);
- ``jsonl.py``     input lines: split, parse, validate (pure, no AWS);  ``formats.py`` output/error
  lines and the File/Batch objects in OpenAI's shapes;
- ``store.py``     batch, file and per-line items in the gateway's single DynamoDB table;
  ``blobs.py`` files in S3;  ``workqueue.py`` work items on SQS;
- ``principal.py`` re-creates the owning key's ``Principal`` at processing time;  ``prefixes.py``
  who owns an S3 drop (the master key's grant of ``batch/input/<prefix>/``);
- ``starter.py``   validates an input file and fans it out into chunk work items;
- ``runner.py``    runs one chunk: claim each line, call the pipeline, record, count the chunk once;
- ``finalize.py``  the last chunk to be counted assembles the output and error files;
- ``handlers.py``  the S3 and SQS Lambda entry points (``functions/batch`` are thin wrappers);
- ``routes.py``    ``/v1/files`` and ``/v1/batches`` (OpenAI Files and Batches API).

The local stand-in for the event source mapping (``make run``, tests) is dev-only:
``gateway_dev/batch_worker.py``, next to this package, not in the layer.

Exactly-once: every line has an item ``pk=BATCH#<id>, sk=LINE#<index>`` that a worker must claim with
a conditional write before it calls the model, and a chunk adds its counts to the batch in one
conditional update guarded by a set of counted chunks. See ``runner.py`` for what that does and does
not guarantee.
"""
