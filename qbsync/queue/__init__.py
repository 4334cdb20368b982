"""The durable sync queue and the sync engine that turns queue jobs into qbXML and answers into state."""
