"""Shopify: normalizers (``normalize``) and the REST client (``client``)."""
