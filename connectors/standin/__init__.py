"""andon.connectors.standin"""
