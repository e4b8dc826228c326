"""What the sender accepts and what Meta answers.

- :mod:`wacloud.outbound.models`: the sender's input contract, one pydantic model per outbound
  message type (text, media, template, interactive, location, contacts, reaction) plus
  mark-as-read, a batch form ``{"messages": [...]}``, :func:`~wacloud.outbound.models.parse_send_request`
  and the exact Graph API ``/messages`` body of each item; the result models of a send.
- :mod:`wacloud.outbound.meta_errors`: Meta's error codes sorted by remedy (retry with backoff,
  retry after 24 h, refresh the token, opt-out, do not retry).
- :mod:`wacloud.outbound.schema`: the JSON Schema of the request, committed as
  ``docs/sender-contract.schema.json``.
"""
