"""WooCommerce: normalizers (``normalize``) and the REST client (``client``)."""
