"""qbsync: connect WooCommerce and Shopify stores to QuickBooks Desktop through the Web Connector."""

__version__ = "0.1.0"
