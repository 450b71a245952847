"""The seed pipeline: synthetic clicks and orders -> matched clicks -> features -> model.

``data`` simulates the shop, ``ingest`` extracts from it, ``match.sql`` and
``persist_features.sql`` run on the DuckDB warehouse, ``build_features.ipynb`` derives
the features (reading the warehouse through ``warehouse``), ``train`` fits the model in
an environment of its own.
"""
