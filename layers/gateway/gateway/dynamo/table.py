"""The gateway's single DynamoDB table: keys ``pk``/``sk``, one GSI ``gsi1`` on ``gsi1pk``/``gsi1sk``
(projecting ALL), on-demand billing, expiry on ``ttl``.

``template.yaml``'s ``GatewayTable`` declares the same, plus PITR and SSE
(``tests/sam/test_template.py`` keeps the two in step); the local stack creates the table from
here (``gateway_dev.devstack.ensure_table``). The item layouts are the stores' own
(``gateway.keys.store.dynamodb``, ``gateway.batch.store``).
"""
from __future__ import annotations

from typing import Any

TTL_ATTRIBUTE = "ttl"

#: ``create_table`` arguments but the name (the shape of ``GatewayTable``'s properties in template.yaml)
TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "gsi1pk", "AttributeType": "S"},
        {"AttributeName": "gsi1sk", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": "gsi1",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def create_table_args(name: str) -> dict[str, Any]:
    """``create_table`` keyword arguments for a table of this shape named ``name``."""
    return {"TableName": name, **TABLE_DEFINITION}
