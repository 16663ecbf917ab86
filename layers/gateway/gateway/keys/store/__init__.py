"""Where keys, teams, usage counters and spend logs live: an interface and its DynamoDB implementation."""
from gateway.keys.store.base import KeyStore, Reservation, ReserveResult, Settlement, UsageDelta

__all__ = ["KeyStore", "Reservation", "ReserveResult", "Settlement", "UsageDelta", "get_store"]


def get_store() -> KeyStore:
    """The process-wide store (DynamoDB, table from ``GATEWAY_TABLE``)."""
    from gateway.keys.store.dynamodb import default_store

    return default_store()
