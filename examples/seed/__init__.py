"""The seed pipeline: synthetic clicks and orders -> matched events -> features -> model.

Task entry points live in ``ingest``, ``match``, ``features``, ``persist`` and ``train``.
"""
