"""Inbound webhook payloads from Meta: typed models in :mod:`wacloud.inbound.models`."""
