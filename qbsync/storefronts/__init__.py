"""Storefronts: WooCommerce and Shopify."""
