"""andon: shop-floor telemetry to business events, Odoo and Parquet."""

__version__ = "0.1.0"
