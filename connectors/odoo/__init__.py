"""andon.connectors.odoo"""
