"""Routing strategies. Each is an immutable object built once from settings (+ artifact);
``route`` reads only the request and that object, so decisions are pure and repeatable."""
