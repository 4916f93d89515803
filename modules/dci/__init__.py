"""The DCI (SPDCI) registry server: SRSP answers other systems as a Social Registry and as an ID & Beneficiary
Registry, to registered senders only.

Base URLs (under the address `srsp run` serves, e.g. http://127.0.0.1:5000):

- Social Registry: `/dci/social/registry/...` -- `sync/search`, `search` (ACK, then `on-search` to the sender's
  `sender_uri`), `subscribe` / `unsubscribe` (`REGISTER` and `NewHouseHoldMember` events, notified with
  `notify`), `txn/status` (ACK, then `txn-on-status`) and `sync/txn/status`. Specification:
  connectors/transport/dci_schemas/social_api_v1.0.0.yaml.
- ID & Beneficiary Registry: `/dci/ibr/registry/...`, the same endpoints; a person's records carry their
  `enrolments` (programme, status, since, until, monthly amount) when the sender may read `enrolment`.
  Specification: ibr_api_v1.0.0.yaml.
- Token endpoint: `POST /dci/oauth2/client/token` (OAuth2 client credentials, authz_core_api_v1.0.0.yaml).
- SRSP's signing keys: `GET /.well-known/jwks.json` (the certificate keys and the DCI key in one set).

Registering a sender: `srsp dci clients create NAME [--signatures required|optional|none] [--callback-url URL
...] [--jwk FILE | --jwks-url URL] [--field F ...] [--query-type T ...] [--purpose TEXT] [--rate-limit "60 per
minute"]`; it prints the client id and secret once. auth.py checks who asks, operations.py and records.py say
what is answered, tasks.py delivers callbacks and notifications, events.py turns registry events into them.
"""
