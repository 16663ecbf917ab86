"""The gateway's one DynamoDB layer, shared by the stores that live on its single table
(``gateway.keys.store.dynamodb``, ``gateway.batch.store``):

- ``codec``: Python values <-> DynamoDB attribute values (numbers in fixed-point text);
- ``errors``: client failures -> ``StoreUnavailable``, cancelled transactions, error codes;
- ``table``: the table's definition (keys, index, billing, TTL attribute), which ``template.yaml``'s
  ``GatewayTable`` declares too (a test keeps the two in step) and the dev stack creates.

Creating the table is not here: AWS gets it from ``template.yaml``; locally ``gateway_dev.devstack``.
"""
