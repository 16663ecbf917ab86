"""Dev-only code: the local stand-ins for AWS that ``make run``, the tests and the benchmarks use.

- ``devstack``: moto's server on loopback, and the bucket and table ``template.yaml`` creates in AWS
  (``ensure_table`` / ``create_table``, from ``gateway.dynamo.table``);
- ``batch_worker``: the local SQS worker and S3-notification stand-in for the batch Lambda.

Installed with the project (``pip install -e .``), never shipped: the gateway layer
(``layers/gateway/Makefile``) copies only ``gateway/`` and ``router/``, and nothing in ``gateway``
imports this package (``tests/gateway/test_import_graph.py``; ``tests/sam/test_sam_build.py``
checks the built layer).
"""
