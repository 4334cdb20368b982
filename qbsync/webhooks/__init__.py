"""Webhook receivers: signature check, size limit, dedupe, durable store, hand-off to background processing.

``views`` (the Flask blueprint) → ``signatures`` and ``envelope`` (pure) → ``deliveries`` (store) →
``processing`` (background: normalize, keep the newest record, queue sync work).
"""
