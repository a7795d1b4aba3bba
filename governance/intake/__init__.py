"""Event intake orchestration (vault + consent) shared by `POST /api/v1/events` and the broker's intake
consumer (`governance intake-consumer`, docs/broker.md). Above vault and consent in the layering."""
